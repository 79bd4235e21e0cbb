import AsyncHTTPClient
import Foundation
import GatewayClient
import GatewayProtocol
import NIOConcurrencyHelpers
import NIOCore
import ServerSentEvents

// MARK: - echo

/// Answers every message with its own text, streamed a word at a time.
package struct EchoBackend: AgentBackend {
    package var kind: String { "echo" }

    package init() {}

    package func reply(to request: ReplyRequest) -> AsyncThrowingStream<String, any Error> {
        AsyncThrowingStream { continuation in
            for piece in Self.pieces(request.text) { continuation.yield(piece) }
            continuation.finish()
        }
    }

    /// Words with the white space after them, so joining the pieces gives the text back.
    static func pieces(_ text: String) -> [String] {
        var pieces: [String] = []
        var current = ""
        var inSpace = false
        for character in text {
            if character.isWhitespace {
                inSpace = true
            } else if inSpace {
                pieces.append(current)
                current = ""
                inSpace = false
            }
            current.append(character)
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }
}

// MARK: - command

/// Runs a command for every message (`/bin/sh -c CMD`): the message text, followed by a newline,
/// is written to its stdin, which is then closed; everything it writes to stdout is the reply,
/// streamed as it arrives, until it closes stdout and exits. Exit status 0 ends the reply; any
/// other status makes it a `reply.error` with the end of stderr. The command also gets
/// `GATEWAY_SESSION_ID`, `GATEWAY_MESSAGE_ID`, `GATEWAY_USER_NAME` and `GATEWAY_AGENT` in its
/// environment. When the session closes or its share is revoked the command gets SIGTERM.
package struct CommandBackend: AgentBackend {
    package let command: String
    package var kind: String { "command" }

    package init(command: String) {
        self.command = command
    }

    package func reply(to request: ReplyRequest) -> AsyncThrowingStream<String, any Error> {
        let (stream, continuation) = AsyncThrowingStream<String, any Error>.makeStream()
        let command = self.command
        let task = Task {
            var environment = ProcessInfo.processInfo.environment
            environment["GATEWAY_SESSION_ID"] = request.sessionID
            environment["GATEWAY_MESSAGE_ID"] = request.messageID
            environment["GATEWAY_USER_NAME"] = request.userName
            environment["GATEWAY_AGENT"] = request.agentKey
            if let turns = request.context, let context = try? WireJSON.string(turns) {
                // The earlier turns as JSON ([{"role": …, "text": …}]), for commands that keep no history.
                environment["GATEWAY_CONTEXT"] = context
            }
            do {
                let process = try Subprocess(shellCommand: command, environment: environment)
                try await withTaskCancellationHandler {
                    try await Self.run(process, input: request.text, continuation)
                } onCancel: {
                    process.send(SIGTERM)
                }
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    private static func run(
        _ process: Subprocess, input: String, _ continuation: AsyncThrowingStream<String, any Error>.Continuation
    ) async throws {
        // Feed stdin while reading stdout: a command may answer before it read everything.
        let writer = Task {
            var bytes = Array(input.utf8)
            if bytes.last != 0x0A { bytes.append(0x0A) }
            try? await process.write(bytes)
            process.closeStandardInput()
        }
        let errors = Task {
            var tail: [UInt8] = []
            for await chunk in process.standardError {
                tail.append(contentsOf: chunk)
                if tail.count > 4000 { tail.removeFirst(tail.count - 4000) }
            }
            return String(decoding: tail, as: UTF8.self)
        }
        var decoder = UTF8ChunkDecoder()
        for await chunk in process.standardOutput {
            let text = decoder.decode(chunk)
            if !text.isEmpty { continuation.yield(text) }
        }
        let rest = decoder.finish()
        if !rest.isEmpty { continuation.yield(rest) }
        _ = await writer.value
        let status = await process.waitForExit()
        let stderr = await errors.value.trimmingCharacters(in: .whitespacesAndNewlines)
        try Task.checkCancellation()
        guard status == 0 else {
            let detail = stderr.isEmpty ? "" : ": " + String(stderr.suffix(1500))
            throw AgentBackendError("the command exited with status \(status)\(detail)")
        }
        continuation.finish()
    }
}

/// Turns byte chunks into text without splitting a multi-byte UTF-8 character between two pieces.
package struct UTF8ChunkDecoder {
    private var pending: [UInt8] = []

    package init() {}

    package mutating func decode(_ chunk: [UInt8]) -> String {
        pending.append(contentsOf: chunk)
        // Keep back an incomplete sequence at the end (at most 3 bytes).
        var cut = pending.count
        var back = 0
        while back < min(3, pending.count) {
            let byte = pending[pending.count - 1 - back]
            if byte & 0xC0 == 0x80 {
                back += 1
                continue
            }
            if byte & 0x80 != 0 {
                let length = byte & 0xE0 == 0xC0 ? 2 : byte & 0xF0 == 0xE0 ? 3 : byte & 0xF8 == 0xF0 ? 4 : 1
                if length > back + 1 { cut = pending.count - 1 - back }
            }
            break
        }
        let text = String(decoding: pending[0..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    package mutating func finish() -> String {
        defer { pending = [] }
        return String(decoding: pending, as: UTF8.self)
    }
}

// MARK: - OpenAI-compatible chat completions

/// Streams answers from an OpenAI-compatible `/chat/completions` endpoint (`stream: true`), such
/// as a local model server (Ollama, llama.cpp's server, vLLM, LM Studio) or a hosted API. Each
/// `data: {…"choices":[{"delta":{"content":"…"}}]}` line becomes a reply delta; `data: [DONE]`
/// ends the reply. The conversation of each session is kept in memory (the last 40 messages) and
/// sent along, so the model sees the context.
package final class OpenAIBackend: AgentBackend, Sendable {
    package let baseURL: String
    package let model: String
    private let apiKey: String?
    private let systemPrompt: String?
    /// Each session's conversation so far, by session id.
    private let histories = NIOLockedValueBox([String: [ChatCompletionRequest.ChatMessage]]())
    package var kind: String { "openai" }

    package init(baseURL: String, model: String, apiKey: String?, systemPrompt: String? = nil) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.model = model
        self.apiKey = apiKey
        self.systemPrompt = systemPrompt
    }

    package func sessionEnded(_ sessionID: String) async {
        histories.withLockedValue { _ = $0.removeValue(forKey: sessionID) }
    }

    package func reply(to request: ReplyRequest) -> AsyncThrowingStream<String, any Error> {
        let (stream, continuation) = AsyncThrowingStream<String, any Error>.makeStream()
        let task = Task {
            do {
                let answer = try await self.complete(request, continuation)
                self.remember(request.sessionID, user: request.text, assistant: answer)
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    private func remember(_ sessionID: String, user: String, assistant: String) {
        histories.withLockedValue { histories in
            var history = histories[sessionID] ?? []
            history.append(.init(role: "user", content: user))
            history.append(.init(role: "assistant", content: assistant))
            histories[sessionID] = Array(history.suffix(40))
        }
    }

    private func complete(_ request: ReplyRequest, _ continuation: AsyncThrowingStream<String, any Error>.Continuation)
        async throws -> String
    {
        var messages: [ChatCompletionRequest.ChatMessage] = []
        if let systemPrompt { messages.append(.init(role: "system", content: systemPrompt)) }
        // Turns the client sent with the message stand for the session's own history.
        if let context = request.context {
            messages += context.map { .init(role: $0.role == "assistant" || $0.role == "system" ? $0.role : "user", content: $0.text) }
        } else {
            messages += histories.withLockedValue { $0[request.sessionID] ?? [] }
        }
        messages.append(.init(role: "user", content: request.text))
        let body = ChatCompletionRequest(model: model, messages: messages, stream: true)
        let url = baseURL + "/chat/completions"
        var httpRequest = HTTPClientRequest(url: url)
        httpRequest.method = .POST
        httpRequest.headers.add(name: "Content-Type", value: "application/json")
        httpRequest.headers.add(name: "Accept", value: "text/event-stream")
        if let apiKey, !apiKey.isEmpty { httpRequest.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        httpRequest.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        let response: HTTPClientResponse
        do {
            response = try await HTTPTransport.open(httpRequest, url: url)
        } catch let error as GatewayClientError {
            if case .unreachable(let origin, let reason) = error {
                throw AgentBackendError("cannot reach the model server at \(origin) (\(reason))")
            }
            throw error
        }
        guard response.status == .ok else {
            let text = (try? await response.body.collect(upTo: 64 * 1024)).map { String(buffer: $0) } ?? ""
            throw AgentBackendError("the model server answered HTTP \(response.status.code): \(Self.errorMessage(text))")
        }
        var parser = ServerSentEventParser()
        var answer = ""
        for try await chunk in response.body {
            for item in try parser.feed(chunk) {
                guard case .event(let event) = item else { continue }
                let data = event.data.trimmingCharacters(in: .whitespaces)
                if data == "[DONE]" { return answer }
                guard let chunk = try? JSONDecoder().decode(StreamedChunk.self, from: Data(data.utf8)) else { continue }
                if let error = chunk.error {
                    throw AgentBackendError("the model server failed: \(error.message ?? "no message")")
                }
                if let content = chunk.choices?.first?.delta?.content, !content.isEmpty {
                    answer += content
                    continuation.yield(content)
                }
            }
        }
        return answer
    }

    /// What this backend reads of a streamed chunk (`ChatCompletionChunk`, or an error in its
    /// place). Model servers differ in the fields they send, so only these are required to be
    /// there, and only when present.
    struct StreamedChunk: Decodable {
        struct Choice: Decodable {
            struct Delta: Decodable { let content: String? }
            let delta: Delta?
        }
        struct ErrorDetail: Decodable { let message: String? }
        let choices: [Choice]?
        let error: ErrorDetail?
    }

    /// The `error.message` of an OpenAI-style error body (`OpenAIErrorResponse`), else the text
    /// itself (shortened).
    static func errorMessage(_ text: String) -> String {
        struct ErrorBody: Decodable { let error: StreamedChunk.ErrorDetail }
        if let message = (try? JSONDecoder().decode(ErrorBody.self, from: Data(text.utf8)))?.error.message { return message }
        return text.count > 300 ? String(text.prefix(300)) + "…" : text
    }
}
