// Agent registration under load: 100 virtual users for 60 s against POST /api/v1/agents.
// Thresholds: p95 < 500 ms, errors < 1%.
import http from 'k6/http';
import { BASE, agentBody, check, signup, token } from './lib/setup.js';

export const options = {
  scenarios: {
    register: { executor: 'constant-vus', vus: Number(__ENV.VUS || 100), duration: __ENV.DURATION || '60s' },
  },
  thresholds: {
    http_req_duration: ['p(95)<500'],
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
  },
};

export function setup() {
  // Several tenants, so the per-tenant limit of the stack is not what is measured.
  const admins = [];
  for (let i = 0; i < 10; i++) {
    const t = signup('Registration Load');
    admins.push(token(t.client_id, t.client_secret));
  }
  return { admins };
}

export default function (data) {
  const admin = data.admins[__VU % data.admins.length];
  const res = http.post(`${BASE}/api/v1/agents`, JSON.stringify(agentBody(`${__VU}-${__ITER}`)), {
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${admin}` },
  });
  check(res, { 'status 201': (r) => r.status === 201 });
}
