import Foundation
import Testing
@testable import MusterKit

/// `muster config --json`: each service is an object with its fields, secrets masked.
@Suite struct StackRendererTests {
    @Test func everyServiceIsAnObjectWithItsFields() throws {
        let stack = try StackLoader.parse(
            yaml: """
                name: shop
                services:
                  db: { engine: postgres, databases: [shop], password: hunter2 }
                  api: { command: ["sleep", "1"], depends_on: [db] }
                """, file: "muster.yaml", directory: "/tmp", environment: [:])
        let text = StackRenderer(stack: stack, project: nil).json()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let services = try #require(object["services"] as? [[String: Any]], "services must be objects: \(text)")
        #expect(services.map { $0["name"] as? String } == ["db", "api"])
        #expect(services[0]["engine"] as? String == "postgres")
        #expect(services[0]["databases"] as? [String] == ["shop"])
        #expect(services[0]["password"] as? String == Secrets.mask)
        #expect(!text.contains("hunter2"))
    }
}
