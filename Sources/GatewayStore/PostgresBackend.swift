import GatewayConfig
import Logging
import NIOSSL
import PostgresNIO

/// Postgres through PostgresNIO's connection pool.
package final class PostgresBackend: SQLDatabase {
    package let kind = "postgres"
    private let client: PostgresClient
    private let logger: Logger
    /// Arbitrary constant shared by every replica; identifies the gateway's migration lock.
    static let migrationLockKey: Int64 = 0x6761_7465_7761_7931

    package init(settings: PostgresSettings, logger: Logger) {
        var configuration = PostgresClient.Configuration(
            host: settings.host, port: settings.port, username: settings.username,
            password: settings.password, database: settings.database, tls: Self.tls(for: settings.sslMode))
        // Short connect timeout so readiness notices an outage quickly; the pool retries by itself.
        configuration.options.connectTimeout = .seconds(2)
        configuration.options.maximumConnections = 10
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
    }

    static func tls(for mode: PostgresSSLMode) -> PostgresClient.Configuration.TLS {
        var unverified = TLSConfiguration.makeClientConfiguration()
        unverified.certificateVerification = .none
        switch mode {
        case .disable:
            return .disable
        case .prefer:
            return .prefer(unverified)
        case .require:
            return .require(unverified)
        case .verifyCA:
            var chainOnly = TLSConfiguration.makeClientConfiguration()
            chainOnly.certificateVerification = .noHostnameVerification
            return .require(chainOnly)
        case .verifyFull:
            return .require(.makeClientConfiguration())
        }
    }

    package func run() async {
        await client.run()
    }

    package func execute(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        try await Self.execute(sql, binds, on: .client(client), logger: logger)
    }

    package func transaction<T: Sendable>(_ body: @Sendable (any SQLExecutor) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            try await ConnectionExecutor(connection: connection, logger: logger).inTransaction(body)
        }
    }

    package func withMigrationLock<T: Sendable>(_ body: @Sendable (any SQLExecutor) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            let executor = ConnectionExecutor(connection: connection, logger: logger)
            // Session-level advisory lock: a second replica blocks here until the first finishes.
            try await executor.execute("SELECT pg_advisory_lock($1)", .integer(Self.migrationLockKey))
            do {
                let result = try await body(executor)
                try await executor.execute("SELECT pg_advisory_unlock($1)", .integer(Self.migrationLockKey))
                return result
            } catch {
                _ = try? await executor.execute("SELECT pg_advisory_unlock($1)", .integer(Self.migrationLockKey))
                throw error
            }
        }
    }

    enum Target {
        case client(PostgresClient)
        case connection(PostgresConnection)
    }

    static func execute(_ sql: String, _ binds: [SQLValue], on target: Target, logger: Logger) async throws -> [SQLRow] {
        var bindings = PostgresBindings(capacity: binds.count)
        for value in binds {
            switch value {
            case .text(let text): bindings.append(text)
            case .integer(let integer): bindings.append(integer)
            case .null: bindings.appendNull()
            }
        }
        let query = PostgresQuery(unsafeSQL: sql, binds: bindings)
        let rows: PostgresRowSequence
        switch target {
        case .client(let client): rows = try await client.query(query, logger: logger)
        case .connection(let connection): rows = try await connection.query(query, logger: logger)
        }
        var result: [SQLRow] = []
        for try await row in rows {
            var columns: [String: SQLValue] = [:]
            for cell in row {
                columns[cell.columnName] = try value(of: cell)
            }
            result.append(SQLRow(columns: columns))
        }
        return result
    }

    private static func value(of cell: PostgresCell) throws -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8:
            return .integer(try cell.decode(Int64.self))
        case .bool:
            return .integer(try cell.decode(Bool.self) ? 1 : 0)
        case .void:
            return .null
        default:
            return .text(try cell.decode(String.self))
        }
    }
}

/// Runs statements on one leased connection (transactions, the migration lock).
struct ConnectionExecutor: SQLExecutor {
    let connection: PostgresConnection
    let logger: Logger

    func execute(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        try await PostgresBackend.execute(sql, binds, on: .connection(connection), logger: logger)
    }
}
