import Foundation
import Logging
import SQLiteNIO

/// SQLite for `gateway dev` and single-node self-hosting. One connection, with statements
/// serialised so a transaction never sees another task's statements interleaved.
package final class SQLiteBackend: SQLDatabase {
    package let kind = "sqlite"
    private let connection: SQLiteConnection
    private let gate = SerialGate()

    private init(connection: SQLiteConnection) {
        self.connection = connection
    }

    /// Opens (creating when needed) the database at `path`, or an in-memory one for `:memory:`.
    package static func open(path: String, logger: Logger) async throws -> SQLiteBackend {
        let storage: SQLiteConnection.Storage
        if path == ":memory:" {
            storage = .memory
        } else {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            storage = .file(path: path)
        }
        let connection = try await SQLiteConnection.open(storage: storage, logger: logger)
        let database = SQLiteBackend(connection: connection)
        if path != ":memory:" {
            try await database.execute("PRAGMA journal_mode=WAL")
        }
        try await database.execute("PRAGMA busy_timeout=5000")
        try await database.execute("PRAGMA foreign_keys=ON")
        return database
    }

    package func run() async {
        // Nothing runs in the background; close the file once the service is cancelled.
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(3600))
        }
        // The future-based close: the async one refuses to run from a cancelled task.
        try? await connection.close().get()
    }

    package func execute(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        try await gate.withLock { try await Self.run(sql, binds, on: connection) }
    }

    package func transaction<T: Sendable>(_ body: @Sendable (any SQLExecutor) async throws -> T) async throws -> T {
        try await gate.withLock {
            try await LockedExecutor(connection: connection).inTransaction(begin: "BEGIN IMMEDIATE", body)
        }
    }

    package func withMigrationLock<T: Sendable>(_ body: @Sendable (any SQLExecutor) async throws -> T) async throws -> T {
        // A single process owns the file; the serial gate is the lock.
        try await gate.withLock { try await body(LockedExecutor(connection: connection)) }
    }

    static func run(_ sql: String, _ binds: [SQLValue], on connection: SQLiteConnection) async throws -> [SQLRow] {
        let data: [SQLiteData] = binds.map {
            switch $0 {
            case .text(let text): .text(text)
            case .integer(let integer): .integer(Int(integer))
            case .null: .null
            }
        }
        let rows = try await connection.query(sqliteParameters(sql), data)
        return rows.map { row in
            var columns: [String: SQLValue] = [:]
            for column in row.columns {
                switch column.data {
                case .integer(let integer): columns[column.name] = .integer(Int64(integer))
                case .text(let text): columns[column.name] = .text(text)
                case .float(let double): columns[column.name] = .text(String(double))
                case .blob, .null: columns[column.name] = .null
                }
            }
            return SQLRow(columns: columns)
        }
    }

    /// Maps Postgres-style `$1` placeholders to SQLite's numbered `?1` (string literals untouched).
    static func sqliteParameters(_ sql: String) -> String {
        var result = ""
        result.reserveCapacity(sql.count)
        var inLiteral = false
        var previous: Character?
        for character in sql {
            if character == "'" { inLiteral.toggle() }
            if character.isNumber, previous == "$", !inLiteral {
                result.removeLast()
                result.append("?")
            }
            result.append(character)
            previous = character
        }
        return result
    }
}

/// Runs statements while the caller already holds the serial gate.
private struct LockedExecutor: SQLExecutor {
    let connection: SQLiteConnection

    func execute(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        try await SQLiteBackend.run(sql, binds, on: connection)
    }
}

/// A FIFO async lock: one holder at a time, waiters resumed in arrival order.
actor SerialGate {
    private var isHeld = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func withLock<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        await acquire()
        do {
            let result = try await body()
            release()
            return result
        } catch {
            release()
            throw error
        }
    }

    private func acquire() async {
        if !isHeld {
            isHeld = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    private func release() {
        if waiters.isEmpty {
            isHeld = false
        } else {
            waiters.removeFirst().resume()
        }
    }
}
