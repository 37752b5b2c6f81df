// Token issuance under load: 1000 virtual users for 60 s against POST /oauth2/token.
// Thresholds: p95 < 500 ms, errors < 1%; k6 exits non-zero when one is breached.
//   k6 run load-tests/token-issuance.js            (BASE_URL, default the local ingress)
import http from 'k6/http';
import { BASE, basic, check, createAgent, createCredential, signup, token } from './lib/setup.js';

export const options = {
  scenarios: {
    tokens: { executor: 'constant-vus', vus: Number(__ENV.VUS || 1000), duration: __ENV.DURATION || '60s' },
  },
  thresholds: {
    http_req_duration: ['p(95)<500'],
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
  },
  setupTimeout: '120s',
};

export function setup() {
  const tenant = signup('Token Load');
  const admin = token(tenant.client_id, tenant.client_secret);
  const creds = [];
  for (let a = 0; a < 10; a++) {
    const agent = createAgent(admin, a);
    for (let c = 0; c < 10; c++) {
      const cred = createCredential(admin, agent.id);
      creds.push(basic(cred.client_id, cred.client_secret));
    }
  }
  return { creds };
}

export default function (data) {
  const auth = data.creds[(__VU * 31 + __ITER) % data.creds.length];
  const res = http.post(`${BASE}/oauth2/token`, 'grant_type=client_credentials', {
    headers: { Authorization: auth, 'Content-Type': 'application/x-www-form-urlencoded' },
  });
  check(res, {
    'status 200': (r) => r.status === 200,
    'has access_token': (r) => r.status === 200 && r.json('access_token') !== undefined,
  });
}
