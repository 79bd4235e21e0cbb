import Foundation
import GatewayAuth
import GatewayConfig
import GatewayEphemeral
import GatewayEvents
import GatewayFirebase
import GatewayOIDC
import GatewayProtocol
import GatewayRelay
import GatewayStore
import GatewayWeb
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// Builds and runs the gateway: dependencies, routes, middleware and lifecycle.
package enum Gateway {
    /// Builds the HTTP application with its dependencies as managed services.
    package static func makeApplication(
        configuration: GatewayConfiguration, logger: Logger, metrics: GatewayMetrics = GatewayMetrics()
    ) async throws -> some ApplicationProtocol {
        let dependencies = try await GatewayDependencies.make(configuration: configuration, logger: logger, metrics: metrics)
        return makeApplication(dependencies, router: buildRouter(dependencies))
    }

    /// The HTTP application over built dependencies and their router (tests and the benchmark add
    /// routes of their own to it first). Migrations run before the port is bound, so a replica
    /// only takes traffic once the schema is current.
    package static func makeApplication(_ dependencies: GatewayDependencies, router: Router<GatewayRequestContext>)
        -> some ApplicationProtocol
    {
        let configuration = dependencies.configuration
        let logger = dependencies.logger
        var app = Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: TimeAmount(configuration.httpIdleTimeout))),
            configuration: .init(address: .hostname(configuration.bindAddress, port: configuration.port), serverName: nil),
            services: dependencies.services,
            onServerRunning: { channel in
                logStarted(
                    configuration: configuration, connector: dependencies.connector, listen: channel.localAddress?.description ?? "?",
                    logger: logger)
            },
            logger: logger)
        app.beforeServerStarts {
            try await migrate(store: dependencies.store, logger: logger)
        }
        return app
    }

    /// The routes and middleware over already-built dependencies: no I/O, nothing started.
    /// Every `/v1` and `/mcp` route is in a group behind `CallerAuthenticationMiddleware`.
    package static func buildRouter(_ dependencies: GatewayDependencies) -> Router<GatewayRequestContext> {
        let configuration = dependencies.configuration
        let readiness = dependencies.readiness
        let router = Router(context: GatewayRequestContext.self)
        router.add(middleware: RequestObservationMiddleware(metrics: dependencies.metrics))
        router.add(middleware: AllowListCORSMiddleware(allowed: Set(configuration.corsAllowedOrigins)))
        router.add(middleware: ProblemMiddleware())
        HealthRoutes(readiness: readiness, metrics: dependencies.metrics).register(on: router)
        OpenAPIDocument.register(on: router)
        SignInPages.registerAssets(on: router)
        let limiter = AbuseLimiter(ephemeral: dependencies.ephemeral, settings: configuration.auth)
        OAuthRoutes(server: dependencies.authorizationServer, limiter: limiter, configuration: configuration).register(on: router)
        SignInRoutes(
            server: dependencies.authorizationServer, connector: dependencies.connector.connector,
            pendingSignIns: PendingSignIns(ephemeral: dependencies.ephemeral), limiter: limiter,
            browsers: BrowserSession(formTokens: FormTokens(keyMaterial: configuration.signingKey.bytes), configuration: configuration),
            store: dependencies.store,
            ephemeral: dependencies.ephemeral, configuration: configuration, logger: dependencies.logger
        ).register(on: router)
        WebApp(
            settings: WebAppSettings(
                publicBaseURL: configuration.publicBaseURL, authMode: configuration.authMode.rawValue,
                nonProduction: dependencies.connector.connector.isNonProduction, storeKind: configuration.storeKind,
                usesRedis: configuration.redisURL != nil, version: GatewayVersion.current,
                identityProviderCallbackURL: dependencies.connector.callbackURL),
            readiness: {
                let report = await readiness.evaluate()
                var statuses = report.checks.map { name, check in
                    WebDependencyStatus(name: name, isUp: check.status == "up", latencyMilliseconds: check.latencyMs)
                }
                if let provider = report.identityProvider {
                    statuses.append(
                        WebDependencyStatus(name: "identity_provider", isUp: provider.status == "available", latencyMilliseconds: 0))
                }
                return statuses
            },
            invite: { [relay = dependencies.relay] code in
                // What anyone holding the link may learn: the link is the secret.
                guard let preview = try? await relay.invite(code: code) else { return nil }
                return WebInvite(
                    ownerName: PersonText.displayable(preview.ownerName),
                    agentName: PersonText.displayable(preview.agentName),
                    agentDescription: PersonText.displayable(preview.agentDescription, allowingLineBreaks: true),
                    status: preview.status.rawValue,
                    expiresAt: preview.expiresAt.map { ISO8601DateFormatter().string(from: $0) })
            }
        ).register(on: router)
        // Authentication as structure: each authenticated group verifies the caller under its
        // policy before any handler runs, and its handlers get an `AuthenticatedContext`.
        let apiKeys = APIKeyService(store: dependencies.store)
        let authenticator = CallerAuthenticator(tokens: dependencies.tokens, keys: apiKeys, relay: dependencies.relay)
        func authenticated(_ group: RouterGroup<GatewayRequestContext>, _ policy: CallerPolicy) -> RouterGroup<AuthenticatedContext> {
            group.add(middleware: CallerAuthenticationMiddleware(authenticator: authenticator, policy: policy))
                .group(context: AuthenticatedContext.self)
        }
        var completionLimits = CompletionLimits()
        completionLimits.hostWait = configuration.completionHostWait

        // One `/v1` group: the API (access tokens of the gateway's own applications, problem
        // details), and the OpenAI-compatible routes as a subgroup (API keys too, OpenAI's errors).
        let v1 = router.group("v1")
        let apiPolicy = CallerPolicy(clients: Set(dependencies.authorizationServer.clients.clients.keys))
        let api = authenticated(v1.group(), apiPolicy)
        MeRoutes(
            store: dependencies.store, authMode: configuration.authMode, nonProduction: dependencies.connector.connector.isNonProduction
        ).register(on: api)
        APIKeyRoutes(keys: apiKeys, relay: dependencies.relay).register(on: api)
        RelayRoutes(relay: dependencies.relay, streams: dependencies.streams).register(on: api)
        let openAI = authenticated(v1.group().add(middleware: OpenAIErrorMiddleware()), OpenAIRoutes.callerPolicy(api: apiPolicy))
        OpenAIRoutes(relay: dependencies.relay, limits: completionLimits, heartbeatInterval: configuration.streams.heartbeatInterval)
            .register(on: openAI)

        let mcp = router.group("mcp").add(
            middleware: MCPOriginMiddleware(allowedOrigins: [configuration.publicBaseURL] + configuration.corsAllowedOrigins))
        MCPRoutes(
            relay: dependencies.relay, bus: dependencies.bus, limits: completionLimits,
            streamLifetime: configuration.streams.maximumLifetime, heartbeatInterval: configuration.streams.heartbeatInterval
        ).register(
            on: authenticated(
                mcp,
                MCPRoutes.callerPolicy(
                    resource: dependencies.authorizationServer.mcpResource, publicBaseURL: configuration.publicBaseURL)))
        return router
    }

    /// Runs until SIGTERM or SIGINT, then drains: stop accepting, finish in-flight requests,
    /// end long-lived responses, close dependencies; everything is bounded to stay under 10 s.
    package static func run(configuration: GatewayConfiguration, logger: Logger) async throws {
        let app = try await makeApplication(configuration: configuration, logger: logger)
        var groupConfiguration = ServiceGroupConfiguration(
            services: [.init(service: app)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(8)
        groupConfiguration.maximumCancellationDuration = .seconds(1)
        try await ServiceGroup(configuration: groupConfiguration).run()
        logger.info("gateway stopped", metadata: ["event": "gateway.stopped"])
    }

    /// The sign-in connectors, one line each: a connector is its module's folder (its settings
    /// and variables, connector and `definition`) and one line here. `ConnectorTableTests`
    /// checks every line.
    package static let connectors: [ConnectorDefinition] = [
        DemoConnector.definition,
        OIDCConnector.definition,
        FirebaseConnector.definition,
    ]

    /// Every variable the gateway reads: its own, then each connector's.
    package static let configurationVariables = ConfigurationVariable.core + connectors.flatMap(\.configuration.variables)

    /// The configuration from the environment, with every connector of the table.
    package static func loadConfiguration(
        mode: RunMode, environment: [String: String]
    ) throws(ConfigurationError) -> GatewayConfiguration {
        try GatewayConfiguration.load(mode: mode, environment: environment, connectors: connectors.map(\.configuration))
    }

    /// The sign-in connector of the configured auth mode, from the table.
    static func makeConnector(_ configuration: GatewayConfiguration, logger: Logger) throws -> ConnectorPlugin {
        guard let definition = connectors.first(where: { $0.mode == configuration.authMode }) else {
            throw MissingConnectorSettings(mode: configuration.authMode)
        }
        return try definition.make(configuration, logger)
    }

    /// Applies migrations, retrying while the store is unreachable (it may still be starting).
    static func migrate(store: GatewayStore, logger: Logger, giveUpAfter limit: Duration = .seconds(120)) async throws {
        let deadline = ContinuousClock.now + limit
        var attempt = 0
        while true {
            attempt += 1
            do {
                try await withDeadline(.seconds(15)) { try await store.ping() }
                try await Migrator(database: store.database, logger: logger).migrate()
                return
            } catch {
                if ContinuousClock.now >= deadline || Task.isCancelled { throw error }
                logger.warning(
                    "store not reachable yet; retrying",
                    metadata: ["event": "store.unavailable", "attempt": "\(attempt)", "error": "\(Readiness.describe(error))"])
                try await Task.sleep(for: .seconds(min(attempt, 5)))
            }
        }
    }

    static func logStarted(configuration: GatewayConfiguration, connector: ConnectorPlugin, listen: String, logger: Logger) {
        var metadata: Logger.Metadata = [
            "event": "gateway.started",
            "version": .string(GatewayVersion.current),
            "mode": .string(configuration.mode.rawValue),
            "public_base_url": .string(configuration.publicBaseURL),
            "auth_mode": .string(configuration.authMode.rawValue),
            "store": .string(configuration.storeKind),
            "event_bus": .string(configuration.eventBusKind),
            "listen": .string(listen),
        ]
        // What operators register at their identity provider as the redirect URI.
        if let callback = connector.callbackURL { metadata["\(configuration.authMode.rawValue)_callback_url"] = .string(callback) }
        logger.info("gateway started", metadata: metadata)
        if configuration.mode == .dev {
            // The one line a newcomer looks for.
            logger.info(
                "open \(configuration.publicBaseURL)/ in your browser",
                metadata: ["event": "gateway.open", "url": .string(configuration.publicBaseURL)])
        }
        for notice in connector.notices {
            var metadata: Logger.Metadata = ["event": .string(notice.event)]
            for (key, value) in notice.metadata { metadata[key] = .string(value) }
            logger.log(level: notice.level, "\(notice.message)", metadata: metadata)
        }
        if configuration.signingKey.isGenerated {
            logger.warning(
                "JWT_SIGNING_KEY not set: generated a key for this process; access tokens from before a restart are refused, and clients renew them with their refresh tokens",
                metadata: ["event": "gateway.generated_signing_key"])
        }
    }
}

/// Everything the routes are built from: the opened store, Redis or its in-process stand-ins,
/// the domain services over them, and the background services the application runs.
package struct GatewayDependencies: Sendable {
    package let configuration: GatewayConfiguration
    package let store: GatewayStore
    package let ephemeral: any EphemeralStore
    package let bus: any EventBus
    let readiness: Readiness
    let streams: EventStreamResponder
    package let tokens: AccessTokenService
    let authorizationServer: AuthorizationServer
    /// The sign-in connector of the configured mode, with what it brings (`Gateway.connectors`).
    let connector: ConnectorPlugin
    let relay: RelayService
    package let metrics: GatewayMetrics
    package let logger: Logger
    /// Run by the application: store, Redis, event bus, presence, identity provider.
    let services: [any Service]

    /// Serves `stream` as Server-Sent Events with resume (see docs/streams.md).
    package func eventStream(_ stream: StreamName, request: Request, context: GatewayRequestContext) -> Response {
        streams.response(stream, request: request, context: context)
    }

    /// The whole graph held in memory: `configuration` (by default `gateway dev`'s, in demo mode)
    /// over SQLite in memory and the in-process event bus and ephemeral store. Nothing connects
    /// until its services run, so building and driving its router needs no service at all.
    package static func inMemory(configuration: GatewayConfiguration? = nil, logger: Logger = Logger(label: "gateway")) async throws
        -> Self
    {
        var offline = try configuration ?? Gateway.loadConfiguration(mode: .dev, environment: [:])
        offline.database = .sqlite(path: ":memory:")
        offline.redisURL = nil
        return try await make(configuration: offline, logger: logger, metrics: GatewayMetrics())
    }

    /// Closes what `make` opened when its services never ran (an in-memory graph whose router was
    /// only driven in memory).
    package func close() async {
        let runner = Task { await store.database.run() }
        runner.cancel()
        await runner.value
    }

    /// Opens the store and Redis clients (they connect when their services run) and builds the
    /// domain services over them.
    package static func make(configuration: GatewayConfiguration, logger: Logger, metrics: GatewayMetrics) async throws -> Self {
        let store = try await GatewayStore.open(configuration.database, logger: logger)
        var checks = [DependencyCheck(name: "store") { try await store.ping() }]
        var services: [any Service] = [BackgroundService(name: "store") { await store.database.run() }]
        let ephemeral: any EphemeralStore
        let bus: any EventBus
        let retention = StreamRetention(
            maximumLength: configuration.streams.historyLength, maximumBytes: configuration.streams.historyMaxBytes,
            timeToLive: configuration.streams.historyTTL)
        if let redisURL = configuration.redisURL {
            let redis = try RedisDependency(url: redisURL, logger: logger)
            checks.insert(DependencyCheck(name: "redis") { try await redis.ping() }, at: 0)
            services.append(BackgroundService(name: "redis") { await redis.run() })
            ephemeral = RedisEphemeralStore(redis: redis.client, prefix: configuration.redisKeyPrefix)
            let redisBus = try RedisEventBus(
                redis: redis.client, receiverConfiguration: redis.client.configuration, prefix: configuration.redisKeyPrefix,
                retention: retention, logger: logger)
            bus = redisBus
            checks.append(
                DependencyCheck(name: "events") {
                    guard await redisBus.isReceiving else { throw EventReceiverDown() }
                })
        } else {
            ephemeral = MemoryEphemeralStore()
            bus = MemoryEventBus(retention: retention)
        }
        services.append(BackgroundService(name: "events") { await bus.run() })
        let connector = try Gateway.makeConnector(configuration, logger: logger)
        for work in connector.background { services.append(BackgroundService(name: work.name, body: work.run)) }
        let readiness = Readiness(checks: checks, metrics: metrics, identityProvider: connector.providerState)
        var streamSettings = EventStreamSettings()
        streamSettings.heartbeatInterval = configuration.streams.heartbeatInterval
        streamSettings.maximumLifetime = configuration.streams.maximumLifetime
        let streams = EventStreamResponder(bus: bus, settings: streamSettings, metrics: metrics, logger: logger)

        let tokens = try await AccessTokenService(
            keyMaterial: configuration.signingKey.bytes, issuer: configuration.publicBaseURL,
            audience: configuration.publicBaseURL, lifetime: configuration.auth.accessTokenTTL)

        var relayLimits = RelayLimits()
        relayLimits.messagesPerMinute = configuration.limits.messagesPerMinute
        relayLimits.sessionsPerMinute = configuration.limits.sessionsPerMinute
        relayLimits.repliesPerMinute = configuration.limits.repliesPerMinute
        relayLimits.replyBytesPerMinute = configuration.limits.replyBytesPerMinute
        relayLimits.streamsPerUser = configuration.limits.streamsPerUser
        relayLimits.streamsPerDevice = configuration.limits.streamsPerDevice
        let relay = RelayService(
            store: store, bus: bus, ephemeral: ephemeral, publicBaseURL: configuration.publicBaseURL, limits: relayLimits,
            logger: logger)
        let authorizationServer = AuthorizationServer(
            issuer: configuration.publicBaseURL,
            clients: OAuthClientRegistry(publicBaseURL: configuration.publicBaseURL, allowlist: configuration.oauthRedirectAllowlist),
            thirdParty: ThirdPartyClients(
                store: store,
                metadataDocuments: configuration.clientMetadataDocuments
                    ? try ClientMetadataDocuments(
                        allowLoopback: configuration.clientMetadataAllowLoopback, caPEM: configuration.clientMetadataCAPEM,
                        maximumFetches: configuration.auth.clientMetadataMaximumFetches, logger: logger)
                    : nil,
                registrationsPerAddress: configuration.auth.clientRegistrationsPerAddress,
                unusedRegistrationLifetime: TimeInterval(configuration.auth.unusedClientRegistrationLifetime.components.seconds),
                logger: logger),
            tokens: tokens, store: store, ephemeral: ephemeral, settings: configuration.auth, logger: logger,
            // A revoked sign-in's open MCP streams and calls end on every replica.
            familyRevoked: { familyID in await relay.announceRevokedSignIn(familyID: familyID) })
        services.append(BackgroundService(name: "presence") { await relay.runPresenceFanOut() })
        services.append(BackgroundService(name: "completion sessions") { await relay.runCompletionSessionSweeper() })
        services.append(LiveEventStreamsService(streams: streams.live))
        return GatewayDependencies(
            configuration: configuration, store: store, ephemeral: ephemeral, bus: bus, readiness: readiness, streams: streams,
            tokens: tokens, authorizationServer: authorizationServer, connector: connector, relay: relay, metrics: metrics,
            logger: logger, services: services)
    }
}

struct EventReceiverDown: Error, CustomStringConvertible {
    var description: String { "the Redis pub/sub receiver is not connected; live events cannot be delivered" }
}

/// Runs a dependency's background work as a lifecycle service, stopping it on graceful shutdown.
struct BackgroundService: Service, CustomStringConvertible {
    let name: String
    let body: @Sendable () async -> Void

    var description: String { name }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await body()
        }
    }
}
