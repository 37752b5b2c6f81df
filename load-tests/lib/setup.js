// Shared k6 setup: a tenant, agents and credentials created through the public API.
import http from 'k6/http';
import encoding from 'k6/encoding';
import { check, fail } from 'k6';

export const BASE = __ENV.BASE_URL || 'http://127.0.0.1:8080';

export function json(res) {
  try { return res.json(); } catch (e) { return null; }
}

export function signup(name) {
  const suffix = Math.random().toString(36).slice(2, 10);
  const res = http.post(`${BASE}/api/v1/tenants`,
    JSON.stringify({ name: `${name} ${suffix}`, email: `${name.toLowerCase().replace(/ /g, "-")}-${suffix}@example.com` }),
    { headers: { 'Content-Type': 'application/json' } });
  if (res.status !== 201) fail(`signup: ${res.status} ${res.body}`);
  return res.json();
}

export function basic(clientId, secret) {
  return `Basic ${encoding.b64encode(`${clientId}:${secret}`)}`;
}

export function token(clientId, secret) {
  const res = http.post(`${BASE}/oauth2/token`, { grant_type: 'client_credentials' },
    { headers: { Authorization: basic(clientId, secret) } });
  if (res.status !== 200) fail(`token: ${res.status} ${res.body}`);
  return res.json().access_token;
}

export function agentBody(i) {
  return {
    name: `load agent ${i}`, description: 'created by a k6 load test', agent_type: 'classifier',
    version: '1.0.0', capabilities: ['documents:read'], owner: 'load@example.com',
    deployment_env: 'staging', tags: ['load'],
  };
}

export function createAgent(adminToken, i) {
  const res = http.post(`${BASE}/api/v1/agents`, JSON.stringify(agentBody(i)),
    { headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${adminToken}` } });
  if (res.status !== 201) fail(`create agent: ${res.status} ${res.body}`);
  return res.json();
}

export function createCredential(adminToken, agentId) {
  const res = http.post(`${BASE}/api/v1/agents/${agentId}/credentials`, '{}',
    { headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${adminToken}` } });
  if (res.status !== 201) fail(`create credential: ${res.status} ${res.body}`);
  return res.json();
}

export { check };
