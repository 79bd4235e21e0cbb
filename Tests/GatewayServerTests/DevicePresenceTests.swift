import Foundation
import Testing

/// A device is online while its event stream is open. When the gateway ends that stream for its
/// lifetime (or a shutdown) the client reconnects at once, so nobody is told it went offline;
/// when it does not come back, or its client leaves, it is.
@Suite("Device presence across stream ends")
struct DevicePresenceTests {
    @Test func aStreamEndedForItsLifetimeDoesNotFlickerOfflineButOneThatStaysAwayDoes() async throws {
        try await withGateway(environment: ["SSE_MAX_LIFETIME": "2s", "SSE_HEARTBEAT_INTERVAL": "1s"], live: true) { client in
            let alice = try await APITestClient.signIn("Alice", at: client.base)
            let deviceID = "presence-\(UUID().uuidString.prefix(8))"
            #expect(try await alice.call(.PUT, "/v1/devices/\(deviceID)", ["name": "Laptop", "platform": "linux"]).status == 201)
            // Where Alice's own stream (which carries device.status) starts; read back at the end.
            let opening = try await alice.stream("/v1/events")
            #expect(await opening.waitFor { !$0.events(ofType: "stream.open").isEmpty })
            let start = try #require(opening.lastEventID)
            await opening.close()

            func isOnline() async throws -> Bool {
                let devices = try await alice.call(.GET, "/v1/devices").array
                return devices.first { $0["id"] as? String == deviceID }?["online"] as? Bool == true
            }
            /// The device.status events since `start`, once they are `expected` (or after 5 s).
            func statuses(becoming expected: [Bool]) async throws -> [Bool] {
                var seen: [Bool] = []
                let deadline = ContinuousClock.now + .seconds(5)
                repeat {
                    let history = try await alice.stream("/v1/events", lastEventID: start)
                    _ = await history.waitFor(timeout: .milliseconds(500)) { $0.isFinished }
                    await history.close()
                    seen = history.payloads("device.status").filter { $0["device_id"] as? String == deviceID }.compactMap {
                        $0["online"] as? Bool
                    }
                } while seen != expected && ContinuousClock.now < deadline
                return seen
            }

            // The device's stream reaches its lifetime twice and reconnects each time.
            var device = try await alice.stream("/v1/devices/\(deviceID)/events")
            for _ in 0..<2 {
                #expect(await device.waitFor(timeout: .seconds(6)) { $0.isFinished }, "the stream ends after its lifetime")
                device = try await alice.stream("/v1/devices/\(deviceID)/events", lastEventID: device.lastEventID)
                #expect(await device.waitFor { $0.items.contains(.comment("heartbeat")) }, "the resumed stream is live")
            }
            try await Task.sleep(for: .seconds(1))
            #expect(try await isOnline())
            #expect(try await statuses(becoming: [true]) == [true], "online once, never offline in between")

            // It reaches its lifetime and does not come back: offline after the presence TTL.
            #expect(await device.waitFor(timeout: .seconds(6)) { $0.isFinished })
            let endedAt = ContinuousClock.now
            var offline = false
            while !offline, ContinuousClock.now - endedAt < .seconds(20) {
                try await Task.sleep(for: .milliseconds(250))
                offline = try await !isOnline()
            }
            #expect(offline, "the device is offline once its stream stayed away")
            #expect(ContinuousClock.now - endedAt >= .seconds(5), "not before the grace of one presence TTL")
            #expect(try await statuses(becoming: [true, false]) == [true, false])

            // Back, then its client leaves: offline at once, no grace.
            device = try await alice.stream("/v1/devices/\(deviceID)/events")
            #expect(await device.waitFor { !$0.events(ofType: "stream.open").isEmpty })
            #expect(try await isOnline())
            await device.close()
            let leftAt = ContinuousClock.now
            offline = false
            while !offline, ContinuousClock.now - leftAt < .seconds(5) {
                try await Task.sleep(for: .milliseconds(100))
                offline = try await !isOnline()
            }
            #expect(offline, "a client that left is offline at once")
            #expect(try await statuses(becoming: [true, false, true, false]) == [true, false, true, false])
        }
    }

    /// The stream the gateway ended for its lifetime holds the device online only until the
    /// device is back: a host killed just after reconnecting is offline at once, not a presence
    /// TTL later (its guests see the reply it was writing interrupted straight away).
    @Test func aDeviceThatLeavesRightAfterReconnectingIsOfflineAtOnce() async throws {
        try await withGateway(environment: ["SSE_MAX_LIFETIME": "2s", "SSE_HEARTBEAT_INTERVAL": "1s"], live: true) { client in
            let alice = try await APITestClient.signIn("Alice", at: client.base)
            let deviceID = "presence-\(UUID().uuidString.prefix(8))"
            #expect(try await alice.call(.PUT, "/v1/devices/\(deviceID)", ["name": "Laptop", "platform": "linux"]).status == 201)
            var device = try await alice.stream("/v1/devices/\(deviceID)/events")
            #expect(await device.waitFor(timeout: .seconds(6)) { $0.isFinished }, "the stream ends after its lifetime")
            device = try await alice.stream("/v1/devices/\(deviceID)/events", lastEventID: device.lastEventID)
            #expect(await device.waitFor { $0.items.contains(.comment("heartbeat")) }, "the resumed stream is live")
            await device.close()
            let leftAt = ContinuousClock.now
            var offline = false
            while !offline, ContinuousClock.now - leftAt < .seconds(8) {
                try await Task.sleep(for: .milliseconds(100))
                let devices = try await alice.call(.GET, "/v1/devices").array
                offline = devices.first { $0["id"] as? String == deviceID }?["online"] as? Bool == false
            }
            #expect(offline)
            #expect(ContinuousClock.now - leftAt < .seconds(2), "offline \(ContinuousClock.now - leftAt) after it left")
        }
    }
}
