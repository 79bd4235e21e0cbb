import GatewayConfig
import Logging

package enum LoggingSetup {
    /// Installs the process-wide log handler chosen by `LOG_FORMAT` and `LOG_LEVEL`.
    package static func bootstrap(format: LogFormat, level: GatewayConfig.LogLevel) {
        let swiftLogLevel = Logger.Level(rawValue: level.rawValue) ?? .info
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler =
                switch format {
                case .json: JSONLogHandler(label: label)
                case .text: StreamLogHandler.standardOutput(label: label)
                }
            handler.logLevel = swiftLogLevel
            return handler
        }
    }
}
