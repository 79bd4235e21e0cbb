import Foundation

/// A value bound to or read from a SQL statement. The schema sticks to types both backends
/// share (text, 64-bit integers, null), so one set of statements serves Postgres and SQLite.
package enum SQLValue: Sendable, Hashable {
    case text(String)
    case integer(Int64)
    case null

    package var string: String? {
        if case .text(let value) = self { return value }
        return nil
    }

    package var int64: Int64? {
        switch self {
        case .integer(let value): value
        case .text(let value): Int64(value)
        case .null: nil
        }
    }
}

extension SQLValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByNilLiteral {
    package init(stringLiteral value: String) { self = .text(value) }
    package init(integerLiteral value: Int64) { self = .integer(value) }
    package init(nilLiteral: ()) { self = .null }

    package init(_ value: String?) { self = value.map(SQLValue.text) ?? .null }
    package init(_ value: Int64?) { self = value.map(SQLValue.integer) ?? .null }
    package init(_ date: Date) { self = .integer(Int64((date.timeIntervalSince1970 * 1000).rounded())) }
    package init(_ date: Date?) { self = date.map { SQLValue($0) } ?? .null }
}

/// One result row, columns by name.
package struct SQLRow: Sendable {
    package let columns: [String: SQLValue]

    package init(columns: [String: SQLValue]) {
        self.columns = columns
    }

    package subscript(_ name: String) -> SQLValue { columns[name] ?? .null }

    package func string(_ name: String) throws -> String {
        guard let value = self[name].string else { throw StoreError.unexpectedValue(column: name) }
        return value
    }

    package func int64(_ name: String) throws -> Int64 {
        guard let value = self[name].int64 else { throw StoreError.unexpectedValue(column: name) }
        return value
    }

    /// Timestamps are stored as Unix milliseconds.
    package func date(_ name: String) throws -> Date {
        Date(timeIntervalSince1970: Double(try int64(name)) / 1000)
    }
}

package enum StoreError: Error, CustomStringConvertible, Equatable {
    case unexpectedValue(column: String)
    case unavailable(String)
    case migrationFailed(version: Int, reason: String)

    package var description: String {
        switch self {
        case .unexpectedValue(let column): "unexpected value in column \(column)"
        case .unavailable(let reason): "store unavailable: \(reason)"
        case .migrationFailed(let version, let reason): "migration \(version) failed: \(reason)"
        }
    }
}

/// Statements use Postgres-style `$1, $2` placeholders; the SQLite backend maps them to `?1, ?2`.
package protocol SQLExecutor: Sendable {
    @discardableResult
    func execute(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow]
}

/// The two real backends: Postgres (deployments) and SQLite (dev and single-node).
package protocol SQLDatabase: SQLExecutor {
    var kind: String { get }
    /// Runs background work (connection pool) until cancelled; returns promptly after cancellation.
    func run() async
    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    func transaction<T: Sendable>(_ body: @Sendable (any SQLExecutor) async throws -> T) async throws -> T
    /// Runs `body` while holding a lock that other processes sharing the database also respect,
    /// so replicas starting together do not migrate twice.
    func withMigrationLock<T: Sendable>(_ body: @Sendable (any SQLExecutor) async throws -> T) async throws -> T
}

extension SQLExecutor {
    @discardableResult
    package func execute(_ sql: String, _ binds: SQLValue...) async throws -> [SQLRow] {
        try await execute(sql, binds)
    }
}

extension SQLExecutor {
    /// BEGIN, `body`, COMMIT; ROLLBACK (and rethrow) when `body` throws. For executors bound
    /// to one connection.
    func inTransaction<T: Sendable>(begin: String = "BEGIN", _ body: @Sendable (any SQLExecutor) async throws -> T) async throws -> T {
        try await execute(begin)
        do {
            let result = try await body(self)
            try await execute("COMMIT")
            return result
        } catch {
            _ = try? await execute("ROLLBACK")
            throw error
        }
    }
}
