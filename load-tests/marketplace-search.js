// Marketplace search under load: 200 virtual users for 60 s of GET /api/v1/marketplace/agents
// (text, filters, second pages) through the ingress. Setup registers 30 agents and waits until
// the marketplace lists them. Thresholds: p95 < 500 ms, errors < 1%; k6 exits non-zero when
// one is breached.
//   k6 run load-tests/marketplace-search.js        (BASE_URL, default the local ingress)
import http from 'k6/http';
import { sleep } from 'k6';
import { BASE, check, signup, token } from './lib/setup.js';

export const options = {
  scenarios: {
    search: { executor: 'constant-vus', vus: Number(__ENV.VUS || 200), duration: __ENV.DURATION || '60s' },
  },
  thresholds: {
    http_req_duration: ['p(95)<500'],
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
  },
  setupTimeout: '120s',
};

const OBJECTS = ['invoice', 'contract', 'receipt', 'ticket', 'claim', 'policy', 'lead', 'incident', 'order', 'payment'];
const ROLES = ['extractor', 'summarizer', 'classifier', 'router', 'monitor', 'screener'];
const SEARCH = `${BASE}/api/v1/marketplace/agents`;

export function setup() {
  const tenant = signup('Search Load');
  const admin = token(tenant.client_id, tenant.client_secret);
  for (let i = 0; i < 30; i++) {
    const object = OBJECTS[i % OBJECTS.length];
    const role = ROLES[i % ROLES.length];
    const body = {
      name: `k6 ${object} ${role} ${i}`, description: `Handles ${object}s for load tests.`,
      agent_type: role, version: '1.0.0', capabilities: [`${object}:read`],
      owner: 'load@example.com', deployment_env: 'staging', tags: ['k6', object],
    };
    const res = http.post(`${BASE}/api/v1/agents`, JSON.stringify(body),
      { headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${admin}` } });
    check(res, { 'agent registered': (r) => r.status === 201 });
  }
  for (let i = 0; i < 50; i++) {
    const res = http.get(`${SEARCH}?tag=k6&limit=100`);
    if (res.status === 200 && res.json('data').length >= 30) return {};
    sleep(0.2);
  }
  throw new Error('the marketplace did not list the agents within 10 s');
}

export default function () {
  const object = OBJECTS[(__VU + __ITER) % OBJECTS.length];
  const role = ROLES[(__VU * 7 + __ITER) % ROLES.length];
  const queries = [
    `q=${object}`, `q=${object}+${role}`, `tag=${object}`, `agent_type=${role}&tag=k6`,
    `capability=${object}:read`, `q=k6&limit=5`,
  ];
  const q = queries[__ITER % queries.length];
  const res = http.get(`${SEARCH}?${q}`);
  check(res, {
    'status 200': (r) => r.status === 200,
    'has data': (r) => r.status === 200 && Array.isArray(r.json('data')),
  });
  const next = res.status === 200 ? res.json('next_cursor') : null;
  if (next) {
    const page = http.get(`${SEARCH}?${q}&cursor=${encodeURIComponent(next)}`);
    check(page, { 'second page 200': (r) => r.status === 200 });
  }
}
