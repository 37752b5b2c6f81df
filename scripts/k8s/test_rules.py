"""Each rule of rules.py catches what it is about: the rendered production overlay passes,
and one change that breaks a rule is reported by it."""

import copy
import pathlib
import unittest

import check
import check_compose
import rules
import yaml

NGINX = (check.ROOT / "deploy" / "nginx" / "agentidp.conf.tmpl").read_text()


class Rules(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        rules.SECRET_NAMES.update(check.secret_names())
        _, cls.objs = check.render("production")

    def broken(self, change):
        objs = copy.deepcopy(self.objs)
        change(objs)
        return rules.check_all(objs) + rules.check_routes(NGINX, objs)

    def deployment(self, objs, n="identity"):
        return next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == n)

    def container(self, objs, n="identity"):
        return self.deployment(objs, n)["spec"]["template"]["spec"]["containers"][0]

    def assertReported(self, problems, fragment):
        self.assertTrue(any(fragment in p for p in problems), f"{fragment!r} not in {problems}")

    def test_the_manifests_pass(self):
        self.assertEqual(rules.check_all(self.objs) + rules.check_routes(NGINX, self.objs), [])

    def test_a_missing_probe_is_reported(self):
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            p = self.broken(lambda o: self.container(o, "billing").pop(probe))
            self.assertReported(p, f"billing/billing: no {probe}")

    def test_missing_limits_are_reported(self):
        p = self.broken(lambda o: self.container(o)["resources"].pop("limits"))
        self.assertReported(p, "no resources.limits.cpu")

    def test_a_writable_root_or_privilege_escalation_is_reported(self):
        p = self.broken(lambda o: self.container(o)["securityContext"].update(
            readOnlyRootFilesystem=False, allowPrivilegeEscalation=True))
        self.assertReported(p, "readOnlyRootFilesystem is not true")
        self.assertReported(p, "allowPrivilegeEscalation is not false")

    def test_kept_capabilities_and_no_seccomp_are_reported(self):
        def change(o):
            self.container(o)["securityContext"]["capabilities"]["drop"] = ["NET_RAW"]
            self.deployment(o)["spec"]["template"]["spec"]["securityContext"].pop("seccompProfile")
            self.container(o)["securityContext"].pop("seccompProfile")
        p = self.broken(change)
        self.assertReported(p, "capabilities are not all dropped")
        self.assertReported(p, "seccompProfile is not RuntimeDefault")

    def test_a_grace_period_below_the_drain_bound_is_reported(self):
        p = self.broken(lambda o: self.deployment(o)["spec"]["template"]["spec"].update(
            terminationGracePeriodSeconds=30))
        self.assertReported(p, "identity: terminationGracePeriodSeconds 30 is not above")

    def test_a_deployment_without_hpa_or_pdb_is_reported(self):
        def change(o):
            o[:] = [x for x in o if not (x["kind"] in ("HorizontalPodAutoscaler", "PodDisruptionBudget")
                                         and x["metadata"]["name"] == "analytics")]
        p = self.broken(change)
        self.assertReported(p, "analytics: no HorizontalPodAutoscaler")
        self.assertReported(p, "analytics: no PodDisruptionBudget")

    def test_a_plain_secret_value_is_reported(self):
        p = self.broken(lambda o: self.container(o)["env"].append(
            {"name": "KEY_ENCRYPTION_KEY", "value": "inline"}))
        self.assertReported(p, "secret KEY_ENCRYPTION_KEY given as a plain value")

    def test_a_migration_job_needing_more_than_the_database_is_reported(self):
        def change(o):
            job = next(x for x in o if x["kind"] == "Job" and x["metadata"]["name"] == "identity-migrate")
            job["spec"]["template"]["spec"]["containers"][0]["env"].append(
                {"name": "KEY_ENCRYPTION_KEY_FILE", "value": "/x"})
        self.assertReported(self.broken(change), "identity-migrate: needs more than DATABASE_URL")

    def test_no_default_deny_is_reported(self):
        p = self.broken(lambda o: o.remove(next(
            x for x in o if x["kind"] == "NetworkPolicy" and x["metadata"]["name"] == "default-deny")))
        self.assertReported(p, "no default-deny NetworkPolicy")

    def test_an_internal_port_open_to_everyone_is_reported(self):
        def change(o):
            pol = next(x for x in o if x["kind"] == "NetworkPolicy" and x["metadata"]["name"] == "agentidp-internal")
            pol["spec"]["ingress"][0]["from"].append({"namespaceSelector": {}})
        self.assertReported(self.broken(change), "internal port is open beyond")

    def test_an_ingress_route_to_internal_or_a_route_nginx_lacks_is_reported(self):
        def change(o):
            ing = next(x for x in o if x["kind"] == "Ingress")
            ing["spec"]["rules"][0]["http"]["paths"].append({
                "path": "/internal/", "pathType": "Prefix",
                "backend": {"service": {"name": "identity", "port": {"name": "internal"}}}})
        p = self.broken(change)
        self.assertReported(p, "ingress routes /internal/")
        self.assertReported(p, "non-public port")
        self.assertReported(p, "the Ingress routes ('Prefix', '/internal/', 'identity') but nginx does not")

    def test_a_route_only_nginx_has_is_reported(self):
        extra = NGINX + "\n        location /api/v1/extra { proxy_pass http://identity; }\n"
        p = rules.check_routes(extra, self.objs)
        self.assertEqual(p, ["nginx routes ('Prefix', '/api/v1/extra', 'identity') but the Ingress does not"])

    def test_a_missing_alert_is_reported(self):
        def change(o):
            pr = next(x for x in o if x["kind"] == "PrometheusRule")
            pr["spec"]["groups"][0]["rules"] = [
                r for r in pr["spec"]["groups"][0]["rules"] if r["alert"] != "AgentIdPRedisDown"]
        self.assertReported(self.broken(change), "no alert AgentIdPRedisDown")


class Compose(unittest.TestCase):
    def setUp(self):
        self.compose = yaml.safe_load((check.ROOT / "deploy" / "compose.yaml").read_text())
        self.env = (check.ROOT / ".env.example").read_text()

    def test_the_compose_file_passes(self):
        self.assertEqual(check_compose.problems(self.compose, self.env), [])

    def test_a_writable_root_a_secret_in_a_migration_or_an_unlisted_variable_is_reported(self):
        self.compose["services"]["billing"]["read_only"] = False
        self.compose["services"]["identity-migrate"]["environment"]["KEY_ENCRYPTION_KEY"] = "x"
        env = self.env.replace("POSTGRES_PASSWORD=", "")
        p = check_compose.problems(self.compose, env)
        self.assertIn("billing: root filesystem is not read-only", p)
        self.assertIn("identity-migrate: must run `migrate` with DATABASE_URL only", p)
        self.assertIn("compose reads ${POSTGRES_PASSWORD} but .env.example does not list it", p)


if __name__ == "__main__":
    unittest.main()
