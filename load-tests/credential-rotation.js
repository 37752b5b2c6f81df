// Credential rotation under load: 50 virtual users for 60 s, each rotating its own
// credential and proving the new secret works. Thresholds: p95 < 500 ms, errors < 1%.
import http from 'k6/http';
import { BASE, basic, check, createAgent, createCredential, signup, token } from './lib/setup.js';

const VUS = Number(__ENV.VUS || 50);

export const options = {
  scenarios: {
    rotate: { executor: 'constant-vus', vus: VUS, duration: __ENV.DURATION || '60s' },
  },
  thresholds: {
    http_req_duration: ['p(95)<500'],
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
  },
  setupTimeout: '120s',
};

export function setup() {
  const tenant = signup('Rotation Load');
  const admin = token(tenant.client_id, tenant.client_secret);
  const creds = [];
  for (let i = 0; i < VUS; i++) {
    const agent = createAgent(admin, i);
    const cred = createCredential(admin, agent.id);
    creds.push({ agent: agent.id, id: cred.id, client_id: cred.client_id });
  }
  return { admin, creds };
}

export default function (data) {
  const c = data.creds[(__VU - 1) % data.creds.length];
  const res = http.post(`${BASE}/api/v1/agents/${c.agent}/credentials/${c.id}/rotate`, '{}', {
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${data.admin}` },
  });
  const ok = check(res, { 'rotated': (r) => r.status === 200 });
  if (ok) {
    const t = http.post(`${BASE}/oauth2/token`, 'grant_type=client_credentials', {
      headers: { Authorization: basic(c.client_id, res.json('client_secret')), 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    check(t, { 'new secret works': (r) => r.status === 200 });
  }
}
