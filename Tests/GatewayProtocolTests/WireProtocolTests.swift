import Foundation
import GatewayProtocol
import Testing

/// docs/openapi.yaml is the contract: every JSON schema in it round-trips through the protocol
/// type that stands for it (decode an instance the document describes, encode it again, get the
/// same JSON), so a field renamed, dropped or retyped on either side fails here.
@Suite("Wire types match docs/openapi.yaml")
struct OpenAPIRoundTripTests {
    static let document = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/openapi.yaml")

    /// A schema's round trip through one Swift type.
    struct Mapping: Sendable {
        let roundTrip: @Sendable (Data) throws -> Data

        static func type<T: Codable & SendableMetatype>(_: T.Type) -> Mapping {
            Mapping { data in try WireJSON.encoder().encode(try WireJSON.decoder().decode(T.self, from: data)) }
        }
    }

    static let mappings: [String: Mapping] = [
        "Problem": .type(ProblemDetails.self),
        "OAuthError": .type(OAuthErrorResponse.self),
        "DeviceBody": .type(DeviceBody.self),
        "AgentBody": .type(AgentBody.self),
        "ShareBody": .type(ShareBody.self),
        "SessionBody": .type(SessionBody.self),
        "MessageBody": .type(MessageBody.self),
        "SessionPatch": .type(SessionPatch.self),
        "ReplyBody": .type(ReplyBody.self),
        "Me": .type(Me.self),
        "DeviceView": .type(DeviceView.self),
        "AgentView": .type(AgentView.self),
        "GuestView": .type(GuestView.self),
        "ShareView": .type(ShareView.self),
        "CreatedShare": .type(CreatedShare.self),
        "InvitePreview": .type(InvitePreview.self),
        "AcceptedInvite": .type(AcceptedInvite.self),
        "SessionView": .type(SessionView.self),
        "Message": .type(MessageView.self),
        "PostedMessage": .type(PostedMessage.self),
        "UnansweredMessageList": .type(UnansweredMessageList.self),
        "MessageList": .type(MessageList.self),
        "ReplyProgress": .type(ReplyProgressView.self),
        "ReplyAccepted": .type(ReplyAccepted.self),
        "StreamPosition": .type(String.self),
        "Readiness": .type(ReadinessReport.self),
        "AuthorizationServerMetadata": .type(AuthorizationServerMetadata.self),
        "ProtectedResourceMetadata": .type(ProtectedResourceMetadata.self),
        "ClientRegistrationRequest": .type(OAuthClientMetadata.self),
        "ClientRegistration": .type(OAuthClientMetadata.self),
        // MCP's JSON-RPC messages are open-ended: the server reads and writes them as JSON values.
        "JSONRPCMessage": .type(GatewayProtocol.JSONValue.self),
        "JSONRPCResponse": .type(GatewayProtocol.JSONValue.self),
        "JSONWebKeySet": .type(JSONWebKeySet.self),
        "TokenResponse": .type(TokenResponse.self),
        "DeviceAuthorizationResponse": .type(DeviceAuthorizationResponse.self),
        "UserRef": .type(UserRef.self),
        "StreamOpenEvent": .type(StreamOpenEvent.self),
        "ResetEvent": .type(ResetEvent.self),
        "SessionCreatedEvent": .type(SessionCreatedEvent.self),
        "SessionClosedEvent": .type(SessionClosedEvent.self),
        "MessageCreatedEvent": .type(MessageCreatedEvent.self),
        "ReplyStartedEvent": .type(ReplyStartedEvent.self),
        "ReplyDeltaEvent": .type(ReplyDeltaEvent.self),
        "ReplyInterruptedEvent": .type(ReplyInterruptedEvent.self),
        "ReplyDoneEvent": .type(ReplyDoneEvent.self),
        "ReplyErrorEvent": .type(ReplyErrorEvent.self),
        "ReplyStopRequestedEvent": .type(ReplyStopRequestedEvent.self),
        "ContextTurn": .type(ContextTurn.self),
        "APIKeyBody": .type(APIKeyBody.self),
        "APIKeyView": .type(APIKeyView.self),
        "CreatedAPIKey": .type(CreatedAPIKey.self),
        "ModelList": .type(ModelList.self),
        "Model": .type(ModelList.Model.self),
        "ChatCompletionRequest": .type(ChatCompletionRequest.self),
        "ChatMessage": .type(ChatCompletionRequest.ChatMessage.self),
        "ChatContentPart": .type(ChatCompletionRequest.ChatMessage.Content.Part.self),
        "ChatCompletion": .type(ChatCompletion.self),
        "ChatCompletionChoice": .type(ChatCompletion.Choice.self),
        "AssistantMessage": .type(ChatCompletion.AssistantMessage.self),
        "ChatCompletionUsage": .type(ChatCompletion.Usage.self),
        "ChatCompletionChunk": .type(ChatCompletionChunk.self),
        "ChatCompletionChunkChoice": .type(ChatCompletionChunk.Choice.self),
        "ChatCompletionDelta": .type(ChatCompletionChunk.Delta.self),
        "OpenAIErrorResponse": .type(OpenAIErrorResponse.self),
        "OpenAIErrorDetail": .type(OpenAIErrorResponse.Detail.self),
        "HostStatusEvent": .type(HostStatusEvent.self),
        "DeviceStatusEvent": .type(DeviceStatusEvent.self),
        "ShareCreatedEvent": .type(ShareCreatedEvent.self),
        "ShareAcceptedEvent": .type(ShareAcceptedEvent.self),
        "ShareRevokedEvent": .type(ShareRevokedEvent.self),
        "AgentUnpublishedEvent": .type(AgentUnpublishedEvent.self),
        "CredentialRevokedEvent": .type(CredentialRevokedEvent.self),
        "DeviceDeletedEvent": .type(DeviceDeletedEvent.self),
    ]

    /// Bodies sent as `application/x-www-form-urlencoded` (OAuth and the sign-in pages): the
    /// schema describes form fields, which no JSON type carries.
    static let formBodies: Set<String> = ["SignInForm", "DeviceForm", "TokenRequest", "RevocationRequest", "DeviceAuthorizationRequest"]

    @Test func everySchemaIsMappedToAWireTypeOrIsAForm() throws {
        let schemas = try OpenAPISchemas.load(from: Self.document)
        let unmapped = schemas.names.filter { Self.mappings[$0] == nil && !Self.formBodies.contains($0) }
        #expect(unmapped.isEmpty, "schemas without a wire type: \(unmapped)")
        let stale = Set(Self.mappings.keys).union(Self.formBodies).subtracting(schemas.names)
        #expect(stale.isEmpty, "mapped names that are not schemas of the document: \(stale.sorted())")
    }

    @Test(arguments: mappings.keys.sorted())
    func schemaRoundTripsThroughItsType(_ name: String) throws {
        let schemas = try OpenAPISchemas.load(from: Self.document)
        let mapping = try #require(Self.mappings[name])
        for instance in try schemas.instances(of: name) {
            let encoded = try mapping.roundTrip(try instance.data())
            #expect(
                try JSONValue(data: encoded) == instance, "\(name): \(instance) came back as \(String(decoding: encoded, as: UTF8.self))")
        }
    }

    /// Every event type has a payload schema named after it (`reply.delta` -> ReplyDeltaEvent).
    @Test func everyEventTypeHasAPayloadSchema() throws {
        let schemas = Set(try OpenAPISchemas.load(from: Self.document).names)
        for type in EventType.allCases {
            let name =
                type.rawValue.split(whereSeparator: { $0 == "." || $0 == "_" }).map { $0.prefix(1).uppercased() + $0.dropFirst() }
                .joined() + "Event"
            #expect(schemas.contains(name), "no schema \(name) for event type \(type.rawValue)")
        }
    }
}

@Suite("Wire coding")
struct WireCodingTests {
    @Test func anUnknownEnumValueNamesTheAcceptedOnes() throws {
        let body = Data(#"{"kind":"partial","reply_to":"m1","text":"x"}"#.utf8)
        do {
            _ = try WireJSON.decoder().decode(ReplyBody.self, from: body)
            Issue.record("an unknown kind was accepted")
        } catch DecodingError.dataCorrupted(let context) {
            #expect(context.codingPath.map(\.stringValue) == ["kind"])
            #expect(context.debugDescription == "must be one of started, delta, done, error")
        }
    }

    @Test func datesAreRFC3339WithOrWithoutFractions() throws {
        let whole = try WireJSON.decoder().decode(
            GuestView.self, from: Data(#"{"user_id":"u","display_name":"A","accepted_at":"2026-11-30T10:00:00Z","left":false}"#.utf8))
        let fractional = try WireJSON.decoder().decode(
            GuestView.self, from: Data(#"{"user_id":"u","display_name":"A","accepted_at":"2026-11-30T10:00:00.250Z","left":false}"#.utf8))
        #expect(fractional.acceptedAt.timeIntervalSince(whole.acceptedAt) == 0.25)
        #expect(try WireJSON.string(whole).contains(#""accepted_at":"2026-11-30T10:00:00Z""#))
        #expect(throws: DecodingError.self) {
            try WireJSON.decoder().decode(
                GuestView.self, from: Data(#"{"user_id":"u","display_name":"A","accepted_at":"yesterday","left":false}"#.utf8))
        }
    }

    @Test func eventsDecodeToTheirTypeAndUnknownOnesStayUnknown() {
        #expect(
            GatewayEvent(type: "host.status", data: #"{"agent_id":"a1","online":true}"#)
                == .hostStatus(HostStatusEvent(agentID: "a1", online: true)))
        #expect(
            GatewayEvent(type: "session.closed", data: #"{"session_id":"s1","reason":"left_share"}"#)
                == .sessionClosed(SessionClosedEvent(sessionID: "s1", reason: .leftShare)))
        // A newer server's event type, and a known type whose payload does not fit, are kept as they came.
        #expect(GatewayEvent(type: "agent.renamed", data: "{}") == .unknown(type: "agent.renamed", data: "{}"))
        #expect(GatewayEvent(type: "host.status", data: #"{"online":"yes"}"#) == .unknown(type: "host.status", data: #"{"online":"yes"}"#))
    }

    @Test func optionalFieldsAreLeftOutNotNull() throws {
        let text = try WireJSON.string(ShareRevokedEvent(shareID: "s", agentID: "a"))
        #expect(text == #"{"agent_id":"a","share_id":"s"}"#)
    }

    /// A problem's kind is what clients switch on; a type this version does not know is nil, never
    /// mistaken for another.
    @Test func problemKindsRoundTripTheirURNs() throws {
        for kind in ProblemType.allCases {
            let problem = ProblemDetails(kind, title: "t", status: 400)
            #expect(problem.type == "urn:agent-gateway:problem:\(kind.rawValue)")
            let decoded = try WireJSON.sharedDecoder.decode(ProblemDetails.self, from: WireJSON.sharedEncoder.encode(problem))
            #expect(decoded.kind == kind)
        }
        #expect(ProblemDetails(type: "urn:agent-gateway:problem:from-the-future", title: "t", status: 400).kind == nil)
        #expect(ProblemDetails(type: "urn:agent-gateway:problem:http-405", title: "t", status: 405).kind == nil)
    }
}
