// X-Bridge-Signature: sha256=<hex HMAC-SHA256(webhook_secret, raw body)>, same as the appliance.
import crypto from 'node:crypto';

export function signBody(secret, body) {
  return 'sha256=' + crypto.createHmac('sha256', secret).update(body).digest('hex');
}
