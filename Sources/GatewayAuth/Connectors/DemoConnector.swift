import GatewayConfig
import GatewayProtocol
import GatewayStore

/// Quick-start sign-in: a display name (and the shared passcode when one is set). The browser's
/// random id is the identity, so the same browser comes back as the same user while two people
/// who pick the same name stay two users.
package struct DemoConnector: FormConnector {
    package let mode = AuthMode.demo
    package let isNonProduction = true
    let settings: DemoSettings

    package init(settings: DemoSettings) {
        self.settings = settings
    }

    package var isEnabled: Bool { settings.signInEnabled }

    package static let maximumDisplayNameLength = 64

    package var page: SignInPage { .fields(fields, notice: "Demo sign-in: this gateway does not check who you are.") }

    var fields: [SignInField] {
        var fields = [
            SignInField(
                name: "display_name", label: "Display name", kind: .text, autocomplete: "nickname",
                maximumLength: Self.maximumDisplayNameLength)
        ]
        if settings.passcode != nil {
            fields.append(SignInField(name: "passcode", label: "Passcode", kind: .password, autocomplete: "current-password"))
        }
        return fields
    }

    package func identify(_ submission: SignInSubmission) async throws(SignInError) -> SignedInPerson {
        guard settings.signInEnabled else { throw .disabled }
        if let passcode = settings.passcode {
            guard OpaqueToken.constantTimeEquals(submission.fields["passcode"] ?? "", passcode) else {
                throw .refused("That passcode is not right.")
            }
        }
        let name = (submission.fields["display_name"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty else { throw .refused("Please enter a display name.") }
        guard name.count <= Self.maximumDisplayNameLength else {
            throw .refused("Display names can be at most \(Self.maximumDisplayNameLength) characters.")
        }
        guard PersonText.refusedCharacter(in: name) == nil else {
            throw .refused("Display names cannot contain control characters or invisible formatting characters.")
        }
        return SignedInPerson(identity: Identity(provider: "demo", subject: submission.browserID), displayName: name)
    }
}
