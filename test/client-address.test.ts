import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildLink } from '../server/mail/mailer.js';
import { clientOf } from '../server/limits/throttles.js';

describe('who a client is, for rate limits', () => {
  it('is the IPv4 address, also when IPv4-mapped', () => {
    assert.equal(clientOf('203.0.113.9'), '203.0.113.9');
    assert.equal(clientOf('::ffff:203.0.113.9'), '203.0.113.9');
  });

  it('is the /64 of an IPv6 address, however it is written', () => {
    const network = '2001:db8:1:2::/64';
    for (const address of ['2001:db8:1:2:3:4:5:6', '2001:0db8:0001:0002::9', '2001:db8:1:2:ffff::1%eth0']) assert.equal(clientOf(address), network);
    assert.notEqual(clientOf('2001:db8:1:3::1'), network);
    assert.equal(clientOf('::1'), '0:0:0:0::/64');
  });
});

describe('mailed links', () => {
  it('keep the path of appUrl and carry the token as a query parameter', () => {
    assert.equal(buildLink('https://x.example/app', '/reset-password', 'lk_abc'), 'https://x.example/app/reset-password?token=lk_abc');
    assert.equal(buildLink('https://x.example/', '/confirm-email', 'lk_abc'), 'https://x.example/confirm-email?token=lk_abc');
  });
});
