import Foundation
import GatewayClient
import GatewayTestSupport
import Testing

/// A stand-in for an OpenAI-compatible server (python3's http.server): answers
/// POST /v1/chat/completions with `stream: true` chunks in that API's SSE format, a pause between
/// each, and records every request it got.
private let standInServer = #"""
    import json, sys, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    port, log = int(sys.argv[1]), sys.argv[2]
    PIECES = ["Hel", "lo", " wor", "ld", "!"]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *args): pass
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            with open(log, "a") as f:
                f.write(json.dumps({"path": self.path, "auth": self.headers.get("Authorization"), "body": body}) + "\n")
            if self.path != "/v1/chat/completions" or body.get("model") != "stand-in-model":
                payload = json.dumps({"error": {"message": "model not found", "type": "invalid_request_error"}}).encode()
                self.send_response(404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            first = {"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"role": "assistant"}}]}
            self.wfile.write(("data: " + json.dumps(first) + "\n\n").encode())
            for piece in PIECES:
                chunk = {"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                self.wfile.write(("data: " + json.dumps(chunk) + "\n\n").encode())
                self.wfile.flush()
                time.sleep(0.15)
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            self.close_connection = True

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
    """#

@Suite(.serialized, .requires(.python3)) struct OpenAIBackendTests {
    @Test func streamedCompletionChunksBecomeReplyDeltasInOrder() async throws {
        let root = try temporaryDirectory("openai")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let python = try #require(findExecutable("python3"), "python3 is needed for the stand-in model server")
        try standInServer.write(toFile: root + "/server.py", atomically: true, encoding: .utf8)
        let modelPort = try freeLoopbackPort()
        let server = try ChildProcess(
            executable: python, arguments: [root + "/server.py", String(modelPort), root + "/requests.log"],
            outputPath: root + "/server.out")
        defer { server.send(SIGKILL) }
        let gateway = try await LiveGateway.dev()
        defer { gateway.stop() }
        let owner = root + "/owner"
        _ = try await login(gateway, configDir: owner, as: "Mo")

        let host = try Ctl(
            [
                "host", "--agent", "llm=openai:stand-in-model", "--agent", "missing=openai:no-such-model",
                "--openai-base-url", "http://127.0.0.1:\(modelPort)/v1", "--api-key-env", "STAND_IN_KEY",
            ], configDir: owner, environment: ["STAND_IN_KEY": "sk-test-123"])
        defer { host.signal(SIGKILL) }
        #expect(await host.waitFor("connected"), "\(host.output)")

        let chat = try await ctl(["chat", "llm", "--json"], configDir: owner, input: "Say hello\nAgain\n")
        #expect(
            chat.status == 0,
            "\(chat.output)\nhost: \(host.output)\nserver: \((try? String(contentsOfFile: root + "/server.out", encoding: .utf8)) ?? "")")
        let events = jsonLines(chat.output)
        let replies = events.filter { $0["type"] as? String == "reply.done" }
        #expect(replies.map { $0["text"] as? String } == ["Hello world!", "Hello world!"], "\(chat.output)")
        let firstReplyTo = try #require(replies.first?["reply_to"] as? String)
        let deltas = events.filter { $0["type"] as? String == "reply.delta" && $0["reply_to"] as? String == firstReplyTo }
        #expect(deltas.compactMap { $0["text"] as? String } == ["Hel", "lo", " wor", "ld", "!"], "\(chat.output)")
        #expect(deltas.compactMap { $0["index"] as? Int } == [0, 1, 2, 3, 4])

        // What the model server got: the model, streaming, the key, and the conversation so far.
        let requests = try String(contentsOfFile: root + "/requests.log", encoding: .utf8).split(separator: "\n").compactMap {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(requests.count == 2)
        #expect(requests.allSatisfy { $0["auth"] as? String == "Bearer sk-test-123" })
        let second = try #require(requests.last?["body"] as? [String: Any])
        #expect(second["stream"] as? Bool == true && second["model"] as? String == "stand-in-model")
        let messages = try #require(second["messages"] as? [[String: String]])
        #expect(messages.map { $0["content"] ?? "" } == ["Say hello", "Hello world!", "Again"], "\(messages)")
        #expect(!host.output.contains("sk-test-123"))

        // A model the server does not know: the chat shows the server's error.
        let failing = try await ctl(["chat", "missing"], configDir: owner, input: "hi\n")
        #expect(failing.output.contains("the agent could not answer") && failing.output.contains("model not found"), "\(failing.output)")
    }
}
