// Railway Infrastructure as Code for the whole gateway project: the gateway service, Redis and
// Postgres, wired by reference variables. Preview with `railway config plan`, apply with
// `railway config apply`, deploy this directory with `railway up`
// (https://docs.railway.com/infrastructure-as-code).
//
// Written against the `railway/iac` TypeScript SDK (defineRailway, project, service, redis,
// postgres; raw variable configs with `value`, `description` and `generator`); it has not been
// run through `railway config plan` here (no Railway account in CI). Tests in
// tests/python/test_deploy_files.py read this file as text and check its variable names, health
// path, start command and deploy settings against the gateway binary and railway.toml.
//
// A service is managed either by this file or by railway.toml, not both: railway.toml serves
// services created before Railway's config-as-code deprecation (2026-12-01); `railway config
// migrate` moves one over.
import { defineRailway, postgres, project, redis, service } from "railway/iac";

export default defineRailway(() => {
  // The names are what reference variables use: ${{Redis.REDIS_URL}}, ${{Postgres.DATABASE_URL}}.
  const cache = redis("Redis");
  const db = postgres("Postgres");

  const gateway = service("gateway", {
    // No `source`: `railway up` deploys this directory (or connect the GitHub repository in the
    // dashboard). Prebuilt image instead of the Swift build (docs/deploy.md, "Prebuilt image"):
    //   source: image("ghcr.io/OWNER/REPO:latest"),
    build: { builder: "DOCKERFILE", dockerfilePath: "Dockerfile" },
    start: "gateway serve",
    healthcheck: "/readyz",
    healthcheckTimeout: 120,
    deploy: {
      restartPolicyType: "ON_FAILURE",
      restartPolicyMaxRetries: 10,
      // Event-stream clients move to the new deployment while the old one still serves; then it
      // drains (closes streams, finishes requests within 8 s) before SIGKILL.
      overlapSeconds: 30,
      drainingSeconds: 20,
    },
    env: {
      // Quick start: demo sign-in (display name only, marked non-production). Switch to
      // firebase or oidc and add their variables (.env.example) for production.
      AUTH_MODE: { value: "demo", description: "Who users are: demo (quick start, not for production), firebase or oidc." },
      PUBLIC_BASE_URL: {
        value: "https://${{RAILWAY_PUBLIC_DOMAIN}}",
        description: "Public https origin users and OAuth redirects use. Generate a domain under Settings > Networking first.",
      },
      JWT_SIGNING_KEY: {
        // 32 random bytes as 64 hex characters, drawn once per deployment of the template.
        generator: 'secret(64, "abcdef0123456789")',
        description: "At least 32 random bytes; every replica derives the same token signing key from it.",
      },
      // References (the SDK compiles them to ${{Redis.REDIS_URL}} and ${{Postgres.DATABASE_URL}} and
      // orders the services by them): both point at the private network (*.railway.internal,
      // which may resolve to IPv6 only; the gateway's clients handle that).
      REDIS_URL: cache.env.REDIS_URL,
      // No sslmode: the default, prefer, uses TLS when the server offers it without verifying
      // the chain, which Railway's self-signed Postgres certificate needs.
      DATABASE_URL: db.env.DATABASE_URL,
      TRUSTED_PROXY_HOPS: { value: "1", description: "Railway's edge proxy appends one X-Forwarded-For entry." },
    },
  });

  return project("gateway", {
    resources: [gateway, cache, db],
  });
});
