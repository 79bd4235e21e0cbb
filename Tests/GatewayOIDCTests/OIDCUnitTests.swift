import Foundation
import GatewayAuth
import GatewayProtocol
import Testing

@testable import GatewayOIDC

@Suite("OpenID Connect pieces")
struct OIDCUnitTests {
    @Test func theDiscoveryURLDropsATrailingSlashOnly() {
        #expect(
            ProviderMetadata.discoveryURL(issuer: "https://id.example.com") == "https://id.example.com/.well-known/openid-configuration")
        #expect(
            ProviderMetadata.discoveryURL(issuer: "https://auth.example.com/application/o/gateway/")
                == "https://auth.example.com/application/o/gateway/.well-known/openid-configuration")
    }

    @Test func signingKeysSkipEncryptionKeysAndKeysOfUnknownTypes() throws {
        let set = """
            {"keys":[
              {"kty":"RSA","use":"sig","kid":"a","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw","e":"AQAB"},
              {"kty":"RSA","use":"enc","kid":"b","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw","e":"AQAB"},
              {"kty":"XYZ","kid":"c"}
            ]}
            """
        let keys = OIDCProvider.signingKeys(in: Data(set.utf8))
        #expect(Array(keys.keys) == ["a"])
    }

    @Test func cacheLifetimeComesFromMaxAge() {
        #expect(CacheControl.maxAge("public, max-age=3600, must-revalidate") == .seconds(3600))
        #expect(CacheControl.maxAge("no-cache") == nil)
        #expect(CacheControl.maxAge(nil) == nil)
    }

    @Test func timesAreCheckedWithTheConfiguredLeeway() throws {
        let verifier = IDTokenVerifier(
            provider: try OIDCProvider(issuer: "https://id.example.com", caPEM: nil, logger: .init(label: "t")), clientID: "gw",
            leeway: .seconds(60))
        let now = Date(timeIntervalSince1970: 1_000_000)
        func claims(exp: Double, iat: Double) -> Claims {
            Claims([
                "iss": .string("https://id.example.com"), "sub": .string("u"), "aud": .string("gw"), "nonce": .string("n"),
                "exp": .double(exp), "iat": .double(iat),
            ])
        }
        #expect(throws: Never.self) {
            try verifier.check(claims(exp: 1_000_000 - 30, iat: 999_000), issuer: "https://id.example.com", nonce: "n", now: now)
        }
        #expect(throws: SignInError.self) {
            try verifier.check(claims(exp: 1_000_000 - 61, iat: 999_000), issuer: "https://id.example.com", nonce: "n", now: now)
        }
        #expect(throws: Never.self) {
            try verifier.check(claims(exp: 1_000_300, iat: 1_000_000 + 59), issuer: "https://id.example.com", nonce: "n", now: now)
        }
        #expect(throws: SignInError.self) {
            try verifier.check(claims(exp: 1_000_300, iat: 1_000_000 + 61), issuer: "https://id.example.com", nonce: "n", now: now)
        }
    }

    @Test func claimValuesAreReadLeniently() {
        #expect(JSONValue.string("true").claimBool == true)
        #expect(JSONValue.bool(false).claimBool == false)
        #expect(JSONValue.string("admins").claimStrings == ["admins"])
        #expect(JSONValue.array([.string("a"), .int(1), .string("b")]).claimStrings == ["a", "b"])
        #expect(JSONValue.int(1_700_000_000).claimNumber == 1_700_000_000)
    }
}
