import Foundation

// The OpenAI-compatible API (`GET /v1/models`, `POST /v1/chat/completions`): the subset of
// OpenAI's shapes the gateway reads and writes. Unknown request fields are ignored.

/// `GET /v1/models`.
public struct ModelList: Codable, Sendable, Equatable {
    public var object = "list"
    public var data: [Model]

    public init(data: [Model]) {
        self.data = data
    }

    /// An agent the caller may use; its id is the agent's id.
    public struct Model: Codable, Sendable, Equatable {
        public var id: String
        public var object = "model"
        /// Unix seconds.
        public var created: Int
        /// The agent's owner ("you" for the caller's own agents is left to clients).
        public var ownedBy: String

        public init(id: String, created: Int, ownedBy: String) {
            self.id = id
            self.created = created
            self.ownedBy = ownedBy
        }

        enum CodingKeys: String, CodingKey {
            case id, object, created
            case ownedBy = "owned_by"
        }
    }
}

/// `POST /v1/chat/completions`.
public struct ChatCompletionRequest: Codable, Sendable, Equatable {
    public var model: String?
    public var messages: [ChatMessage]?
    public var stream: Bool?

    public init(model: String?, messages: [ChatMessage]?, stream: Bool? = nil) {
        self.model = model
        self.messages = messages
        self.stream = stream
    }

    /// One turn. `content` is a string or a list of parts, of which the text parts are read.
    public struct ChatMessage: Codable, Sendable, Equatable {
        public var role: String
        public var content: Content?

        public init(role: String, content: String) {
            self.role = role
            self.content = .text(content)
        }

        public enum Content: Codable, Sendable, Equatable {
            case text(String)
            case parts([Part])

            public struct Part: Codable, Sendable, Equatable {
                public var type: String
                public var text: String?
            }

            public init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let text = try? container.decode(String.self) {
                    self = .text(text)
                } else {
                    self = .parts(try container.decode([Part].self))
                }
            }

            public func encode(to encoder: any Encoder) throws {
                var container = encoder.singleValueContainer()
                switch self {
                case .text(let text): try container.encode(text)
                case .parts(let parts): try container.encode(parts)
                }
            }

            /// The text of the turn: the string, or its text parts joined by newlines.
            public var text: String {
                switch self {
                case .text(let text): text
                case .parts(let parts): parts.compactMap { $0.type == "text" ? $0.text : nil }.joined(separator: "\n")
                }
            }
        }
    }
}

/// A non-streamed completion.
public struct ChatCompletion: Codable, Sendable, Equatable {
    public var id: String
    public var object = "chat.completion"
    public var created: Int
    public var model: String
    public var choices: [Choice]
    public var usage = Usage()

    public init(id: String, created: Int, model: String, text: String) {
        self.id = id
        self.created = created
        self.model = model
        self.choices = [Choice(message: .init(role: "assistant", content: text))]
    }

    public struct Choice: Codable, Sendable, Equatable {
        public var index = 0
        public var message: AssistantMessage
        public var finishReason = "stop"

        enum CodingKeys: String, CodingKey {
            case index, message
            case finishReason = "finish_reason"
        }
    }

    public struct AssistantMessage: Codable, Sendable, Equatable {
        public var role: String
        public var content: String
    }

    /// Agents do not report tokens: zeros, as OpenAI-compatible servers without counts send.
    public struct Usage: Codable, Sendable, Equatable {
        public var promptTokens = 0
        public var completionTokens = 0
        public var totalTokens = 0

        enum CodingKeys: String, CodingKey {
            case promptTokens = "prompt_tokens"
            case completionTokens = "completion_tokens"
            case totalTokens = "total_tokens"
        }
    }
}

/// One `data:` event of a streamed completion (the stream ends with `data: [DONE]`).
public struct ChatCompletionChunk: Codable, Sendable, Equatable {
    public var id: String
    public var object = "chat.completion.chunk"
    public var created: Int
    public var model: String
    public var choices: [Choice]

    public init(id: String, created: Int, model: String, role: String? = nil, content: String? = nil, finishReason: String? = nil) {
        self.id = id
        self.created = created
        self.model = model
        self.choices = [Choice(delta: Delta(role: role, content: content), finishReason: finishReason)]
    }

    public struct Choice: Codable, Sendable, Equatable {
        public var index = 0
        public var delta: Delta
        public var finishReason: String?

        enum CodingKeys: String, CodingKey {
            case index, delta
            case finishReason = "finish_reason"
        }

        // finish_reason is null, not absent, until the last chunk.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(index, forKey: .index)
            try container.encode(delta, forKey: .delta)
            try container.encode(finishReason, forKey: .finishReason)
        }
    }

    public struct Delta: Codable, Sendable, Equatable {
        public var role: String?
        public var content: String?
    }
}

/// OpenAI's error shape, used on the OpenAI-compatible routes only.
public struct OpenAIErrorResponse: Codable, Sendable, Equatable {
    public var error: Detail

    public init(message: String, type: String, code: String?) {
        self.error = Detail(message: message, type: type, param: nil, code: code)
    }

    public struct Detail: Codable, Sendable, Equatable {
        public var message: String
        public var type: String
        public var param: String?
        public var code: String?

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(message, forKey: .message)
            try container.encode(type, forKey: .type)
            try container.encode(param, forKey: .param)
            try container.encode(code, forKey: .code)
        }
    }
}
