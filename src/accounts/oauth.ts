// Sign-in with OpenID Connect providers (docs/COMPATIBILITY.md#d47 .. #d52, docs/SECURITY.md#oidc-sign-in): Google
// as the reference configures it and one generic provider. Discovery from the issuer, authorization code flow
// with PKCE (S256), state and nonce; every ID token is verified here against the provider's published keys
// (signature, issuer, audience = our client id, expiry, nonce), then `email_verified` and the allowed domains.
// Pending sign-ins and tracker keys live in the store under the SHA-256 of their opaque ids, so any instance can
// finish a flow another started, and each is taken once. Nothing secret (codes, tokens, verifiers, the client
// secret) is ever logged or put in an error text.
import crypto from 'node:crypto';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify, errors as joseErrors, type JWTPayload } from 'jose';
import type { ServerSettings } from '../settings/server-settings.js';
import type { OAuthLinkRecord, Store } from '../store/types.js';

export type OAuthProviderId = 'google' | 'oidc';
export const OAUTH_PROVIDERS: readonly OAuthProviderId[] = ['google', 'oidc'];

/** Google's issuer; SWARMCORE_GOOGLE_ISSUER replaces it for tests only (a local provider stands in for Google). */
export const GOOGLE_ISSUER = 'https://accounts.google.com';
/** How long a started sign-in may take at the provider. */
export const FLOW_SECONDS = 600;
/** How long a discovered provider configuration is reused before it is read again. */
const DISCOVERY_SECONDS = 3600;
const KIND_FLOW = 'flow';
const KIND_TRACKER = 'tracker';

/** Why a sign-in was refused: a stable code (audit log, page section) and words for the person. */
export type OAuthRefusalReason =
  | 'not_configured'
  | 'bad_state'
  | 'provider_error'
  | 'exchange_failed'
  | 'wrong_audience'
  | 'wrong_issuer'
  | 'expired'
  | 'bad_signature'
  | 'bad_nonce'
  | 'bad_token'
  | 'no_email'
  | 'unverified_email'
  | 'domain_not_allowed'
  | 'discovery_failed';

export class OAuthRefusal extends Error {
  constructor(
    readonly reason: OAuthRefusalReason,
    message: string,
    /** The e-mail the refused token named, when it got that far (for the page and the audit entry). */
    readonly email: string | null = null,
  ) {
    super(message);
    this.name = 'OAuthRefusal';
  }
}

export interface OAuthProviderInfo {
  id: OAuthProviderId;
  /** The name on buttons. */
  name: string;
}

/** What a pending sign-in is for: signing in (or registering), or linking the signed-in account. */
export type OAuthIntent = { kind: 'login' } | { kind: 'link'; userId: string };

interface Discovered {
  config: client.Configuration;
  jwks: ReturnType<typeof createRemoteJWKSet>;
  issuers: string[];
  clientId: string;
  at: number;
  /** The settings it was discovered with; other settings discover again. */
  cacheKey: string;
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const hashId = (raw: string): string => crypto.createHash('sha256').update(raw, 'utf8').digest('hex');
const randomId = (): string => crypto.randomBytes(32).toString('base64url');

/** Compares two texts in time that does not depend on where they differ (through fixed-length digests). */
export function sameText(a: string, b: string): boolean {
  const x = crypto.createHash('sha256').update(a).digest();
  const y = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(x, y);
}

/** True for an issuer on this machine: only those may be plain http (a test provider, a local Keycloak). */
function loopbackUrl(url: URL): boolean {
  return ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
}

/** Whether an e-mail's domain is in OAuthAllowedDomains (always, when the list is empty). */
export function domainAllowed(email: string, allowedList: string): boolean {
  const allowed = allowedList
    .split(',')
    .map((d) => d.trim().toLowerCase().replace(/^@/, ''))
    .filter((d) => d !== '');
  if (allowed.length === 0) return true;
  const at = email.lastIndexOf('@');
  return at > 0 && allowed.includes(email.slice(at + 1).toLowerCase());
}

export class OAuthService {
  /** Per provider, the last discovery (kept an hour, or until its settings change). */
  private readonly discovered = new Map<OAuthProviderId, Discovered>();

  constructor(
    private readonly store: Store,
    private readonly settings: ServerSettings,
    private readonly googleIssuer: string = process.env.SWARMCORE_GOOGLE_ISSUER || GOOGLE_ISSUER,
  ) {}

  /** The providers configured now, in button order. */
  providers(): OAuthProviderInfo[] {
    const out: OAuthProviderInfo[] = [];
    if (this.configured('google')) out.push({ id: 'google', name: 'Google' });
    if (this.configured('oidc')) out.push({ id: 'oidc', name: this.settings.string('UserAuthorization.OAuth.OIDCDisplayName') || 'single sign-on' });
    return out;
  }

  configured(provider: OAuthProviderId): boolean {
    const s = this.settings;
    if (provider === 'google') return s.bool('UserAuthorization.OAuth.GoogleOAuth') && s.string('UserAuthorization.OAuth.GoogleOAuthClientId').trim() !== '';
    return s.string('UserAuthorization.OAuth.OIDCIssuer').trim() !== '' && s.string('UserAuthorization.OAuth.OIDCClientId').trim() !== '';
  }

  /** Whether people may create accounts through a provider. */
  registrationAllowed(): boolean {
    return this.settings.bool('UserAuthorization.Registration.AllowRegistration') && this.settings.bool('UserAuthorization.Registration.OAuthRegistration');
  }

  displayName(provider: OAuthProviderId): string {
    return this.providers().find((p) => p.id === provider)?.name ?? provider;
  }

  private clientSettings(provider: OAuthProviderId): { issuer: string; clientId: string; secret: string } {
    const s = this.settings;
    if (provider === 'google') {
      return { issuer: this.googleIssuer, clientId: s.string('UserAuthorization.OAuth.GoogleOAuthClientId').trim(), secret: s.string('UserAuthorization.OAuth.GoogleOAuthClientSecret') };
    }
    return { issuer: s.string('UserAuthorization.OAuth.OIDCIssuer').trim(), clientId: s.string('UserAuthorization.OAuth.OIDCClientId').trim(), secret: s.string('UserAuthorization.OAuth.OIDCClientSecret') };
  }

  /** The provider's discovered configuration and key set, read again after an hour or when the settings change. */
  private async discover(provider: OAuthProviderId): Promise<Discovered> {
    if (!this.configured(provider)) throw new OAuthRefusal('not_configured', 'Signing in with this provider is not set up on this server.');
    const { issuer, clientId, secret } = this.clientSettings(provider);
    const cacheKey = hashId(`${provider}\n${issuer}\n${clientId}\n${secret}`);
    const cached = this.discovered.get(provider);
    if (cached && cached.cacheKey === cacheKey && nowSeconds() - cached.at < DISCOVERY_SECONDS) return cached;
    let issuerUrl: URL;
    try {
      issuerUrl = new URL(issuer);
    } catch {
      throw new OAuthRefusal('discovery_failed', 'The provider address in the server settings is not a valid URL.');
    }
    const insecure = issuerUrl.protocol === 'http:' && loopbackUrl(issuerUrl);
    if (issuerUrl.protocol !== 'https:' && !insecure) throw new OAuthRefusal('discovery_failed', 'The provider address must start with https:// (plain http only for a provider on this machine).');
    let config: client.Configuration;
    try {
      config = await client.discovery(issuerUrl, clientId, secret === '' ? undefined : secret, secret === '' ? client.None() : undefined, insecure ? { execute: [client.allowInsecureRequests] } : undefined);
    } catch (err) {
      throw new OAuthRefusal('discovery_failed', `The provider's settings could not be read from ${issuerUrl.origin} (${(err as Error).message.slice(0, 200)}).`);
    }
    const meta = config.serverMetadata();
    if (!meta.jwks_uri) throw new OAuthRefusal('discovery_failed', 'The provider publishes no signing keys (jwks_uri), so its ID tokens cannot be checked.');
    // Google's older tokens name the issuer without the scheme; both spellings are Google's own.
    const issuers = provider === 'google' && meta.issuer === GOOGLE_ISSUER ? [GOOGLE_ISSUER, 'accounts.google.com'] : [meta.issuer];
    const found: Discovered = { config, jwks: createRemoteJWKSet(new URL(meta.jwks_uri)), issuers, clientId, at: nowSeconds(), cacheKey };
    this.discovered.set(provider, found);
    return found;
  }

  /**
   * Starts a sign-in: stores the flow (state, nonce, PKCE verifier, redirect URI, intent) under a new opaque id
   * for FLOW_SECONDS and returns that id (for the browser's cookie) and the provider's authorization URL.
   */
  async start(provider: OAuthProviderId, redirectUri: string, intent: OAuthIntent): Promise<{ flowId: string; url: string }> {
    const d = await this.discover(provider);
    const verifier = client.randomPKCECodeVerifier();
    const state = randomId();
    const nonce = randomId();
    const flowId = randomId();
    const url = client.buildAuthorizationUrl(d.config, {
      redirect_uri: redirectUri,
      scope: 'openid email profile',
      response_type: 'code',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    await this.store.oauth.putPending(hashId(flowId), KIND_FLOW, { provider, state, nonce, verifier, redirectUri, intent }, nowSeconds() + FLOW_SECONDS);
    return { flowId, url: url.href };
  }

  /**
   * Finishes a sign-in on the provider's return: takes the flow named by the browser's cookie (once; a replay
   * finds nothing), checks `state`, exchanges the code with the PKCE verifier and verifies the ID token.
   */
  async finish(provider: OAuthProviderId, flowId: string | undefined, query: URLSearchParams): Promise<{ email: string; intent: OAuthIntent }> {
    if (!flowId) throw new OAuthRefusal('bad_state', 'This sign-in was not started in this browser, or its cookie is gone. Start again from the login page.');
    const flow = await this.store.oauth.takePending(hashId(flowId), KIND_FLOW, nowSeconds());
    if (!flow) throw new OAuthRefusal('bad_state', 'This sign-in has expired or was already used. Start again from the login page.');
    if (flow.provider !== provider) throw new OAuthRefusal('bad_state', 'The provider that answered is not the one this sign-in was started with.');
    const state = query.get('state') ?? '';
    if (!sameText(state, String(flow.state))) throw new OAuthRefusal('bad_state', 'The answer from the provider does not belong to the sign-in started in this browser.');
    const providerError = query.get('error');
    if (providerError !== null) {
      const words = (query.get('error_description') ?? providerError).replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 200);
      throw new OAuthRefusal('provider_error', `The provider did not sign you in: ${words}`);
    }
    const d = await this.discover(provider);
    const redirect = new URL(String(flow.redirectUri));
    for (const [k, v] of query) redirect.searchParams.set(k, v);
    let idToken: string | undefined;
    try {
      const tokens = await client.authorizationCodeGrant(d.config, redirect, { pkceCodeVerifier: String(flow.verifier), expectedState: String(flow.state), expectedNonce: String(flow.nonce), idTokenExpected: true });
      idToken = tokens.id_token;
    } catch (err) {
      throw this.exchangeRefusal(err);
    }
    if (!idToken) throw new OAuthRefusal('bad_token', 'The provider sent no ID token.');
    const email = await this.verifyIdToken(provider, idToken, String(flow.nonce));
    return { email, intent: flow.intent as OAuthIntent };
  }

  /** Words for a failed code exchange; the provider's error code only, never what was sent. */
  private exchangeRefusal(err: unknown): OAuthRefusal {
    const e = err as { code?: unknown; error?: unknown; message?: unknown };
    const what = typeof e.error === 'string' ? e.error : typeof e.code === 'string' ? e.code : 'error';
    const message = typeof e.message === 'string' ? e.message.slice(0, 200) : '';
    if (/\baud\b/.test(message)) return new OAuthRefusal('wrong_audience', 'The ID token was issued to another application, so it cannot sign you in here.');
    if (/\bexp\b|expired/i.test(message)) return new OAuthRefusal('expired', 'The ID token has expired.');
    if (/\bnonce\b/.test(message)) return new OAuthRefusal('bad_nonce', 'The ID token does not belong to this sign-in.');
    return new OAuthRefusal('exchange_failed', `The provider refused to complete the sign-in (${what}).`);
  }

  /**
   * Verifies an ID token locally: signature against the provider's published keys (fetched once and cached by
   * the key set), issuer, audience (our client id), expiry, the nonce when one was sent, then a verified e-mail
   * within OAuthAllowedDomains. Returns the e-mail in lower case.
   */
  async verifyIdToken(provider: OAuthProviderId, idToken: string, expectedNonce: string | null): Promise<string> {
    const d = await this.discover(provider);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(idToken, d.jwks, { issuer: d.issuers, audience: d.clientId, requiredClaims: ['exp', 'iat', 'sub'], clockTolerance: 30 }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new OAuthRefusal('expired', 'The ID token has expired.');
      if (err instanceof joseErrors.JWTClaimValidationFailed) {
        if (err.claim === 'aud') throw new OAuthRefusal('wrong_audience', 'The ID token was issued to another application, so it cannot sign you in here.');
        if (err.claim === 'iss') throw new OAuthRefusal('wrong_issuer', 'The ID token was issued by another provider.');
        throw new OAuthRefusal('bad_token', `The ID token is not valid (${err.claim}).`);
      }
      if (err instanceof joseErrors.JWSSignatureVerificationFailed || err instanceof joseErrors.JWKSNoMatchingKey) {
        throw new OAuthRefusal('bad_signature', "The ID token is not signed with the provider's keys.");
      }
      throw new OAuthRefusal('bad_token', 'The ID token could not be read.');
    }
    // A multi-audience token must name us as the party it was issued to.
    if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== d.clientId) {
      throw new OAuthRefusal('wrong_audience', 'The ID token was issued to another application, so it cannot sign you in here.');
    }
    if (expectedNonce !== null && (typeof payload.nonce !== 'string' || !sameText(payload.nonce, expectedNonce))) {
      throw new OAuthRefusal('bad_nonce', 'The ID token does not belong to this sign-in.');
    }
    const email = typeof payload.email === 'string' ? payload.email.trim().toLowerCase() : '';
    if (email === '' || !email.includes('@') || email.length > 320) throw new OAuthRefusal('no_email', 'The provider did not share an e-mail address, which this server needs to know who you are.');
    if (payload.email_verified !== true && payload.email_verified !== 'true') {
      throw new OAuthRefusal('unverified_email', `The provider has not verified the e-mail address ${email}, so it cannot be used to sign in.`, email);
    }
    if (!domainAllowed(email, this.settings.string('UserAuthorization.OAuth.OAuthAllowedDomains'))) {
      throw new OAuthRefusal('domain_not_allowed', `Addresses at ${email.slice(email.lastIndexOf('@') + 1)} may not sign in to this server.`, email);
    }
    return email;
  }

  /** The account an e-mail is linked to. */
  async linkedUser(email: string): Promise<string | null> {
    return (await this.store.oauth.byEmail(email.trim().toLowerCase()))?.userId ?? null;
  }

  linkOf(userId: string): Promise<OAuthLinkRecord | null> {
    return this.store.oauth.byUser(userId);
  }

  /** Links (or with '' unlinks) the e-mail an account signs in with; `taken` when another account has it. */
  setLink(userId: string, email: string, provider: string): Promise<'ok' | 'taken' | 'no_user'> {
    const clean = email.trim().toLowerCase();
    return this.store.oauth.setLink(userId, clean === '' ? null : clean, provider, nowSeconds());
  }

  /** A one-time key that lets the holder of a verified provider e-mail pick a user name (RegisterOAuth). */
  async createTracker(email: string, provider: OAuthProviderId): Promise<string> {
    const key = crypto.randomBytes(32).toString('hex');
    const minutes = this.settings.int('UserAuthorization.OAuth.TrackerKeyMinutes');
    await this.store.oauth.putPending(hashId(key), KIND_TRACKER, { email, provider }, nowSeconds() + minutes * 60);
    return key;
  }

  /** The tracker's e-mail and provider while it is valid, leaving it in place. */
  async peekTracker(key: string): Promise<{ email: string; provider: string } | null> {
    const data = key === '' ? null : await this.store.oauth.peekPending(hashId(key), KIND_TRACKER, nowSeconds());
    return data ? { email: String(data.email), provider: String(data.provider) } : null;
  }

  /** Takes the tracker: only one caller, on any instance, gets it. */
  async takeTracker(key: string): Promise<{ email: string; provider: string } | null> {
    const data = key === '' ? null : await this.store.oauth.takePending(hashId(key), KIND_TRACKER, nowSeconds());
    return data ? { email: String(data.email), provider: String(data.provider) } : null;
  }

  /** Puts a taken tracker back (its registration failed) with the time it had left. */
  async returnTracker(key: string, tracker: { email: string; provider: string }): Promise<void> {
    const minutes = this.settings.int('UserAuthorization.OAuth.TrackerKeyMinutes');
    await this.store.oauth.putPending(hashId(key), KIND_TRACKER, tracker, nowSeconds() + minutes * 60);
  }

  /** Removes expired flows and tracker keys (the sweep). */
  prune(): Promise<number> {
    return this.store.oauth.prunePending(nowSeconds());
  }
}
