import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { swaggerTokenRequestInterceptor } from '../../src/routes/docs.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

describe('Swagger UI "Authorize" (OAuth 2.0 password flow)', () => {
  let gw: TestGateway;
  beforeEach(async () => {
    gw = await startTestGateway();
  });
  afterEach(async () => {
    await gw.close();
  });

  it('the initializer keeps the token across reloads and logs in as the public client swagger-ui', async () => {
    const res = await gw.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('persistAuthorization');
    expect(res.body).toContain('"swagger-ui"');
    expect(res.body).toContain('requestInterceptor');
  });

  it('a public client sent as Basic with an empty secret becomes a client_id form field (RFC 6749 2.1)', () => {
    const req = {
      url: 'http://localhost:8080/auth/token',
      headers: { Authorization: `Basic ${btoa('swagger-ui:')}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=password&username=alice&password=pw',
    };
    expect(swaggerTokenRequestInterceptor(req)).toEqual({
      url: req.url,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=password&username=alice&password=pw&client_id=swagger-ui',
    });
  });

  it('leaves a confidential client (with a secret) and every other request alone', () => {
    const confidential = { url: '/auth/token', headers: { Authorization: `Basic ${btoa('back-office:s3cret')}` }, body: 'grant_type=client_credentials' };
    expect(swaggerTokenRequestInterceptor({ ...confidential, headers: { ...confidential.headers } })).toEqual(confidential);
    const api = { url: '/accounts', headers: { Authorization: 'Bearer x.y.z' }, body: '{}' };
    expect(swaggerTokenRequestInterceptor({ ...api, headers: { ...api.headers } })).toEqual(api);
  });
});
