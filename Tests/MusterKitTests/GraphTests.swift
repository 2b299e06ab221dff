import Testing
@testable import MusterKit

@Suite struct DependencyGraphTests {
    // api → migrate → db; api → cache; notifier → bus, cache
    let graph = DependencyGraph(
        names: ["db", "cache", "bus", "migrate", "api", "notifier"],
        dependencies: ["migrate": ["db"], "api": ["migrate", "cache"], "notifier": ["bus", "cache"]])

    @Test func startOrderPutsDependenciesFirst() {
        let order = graph.startOrder()
        for (service, deps) in graph.dependencies {
            for dep in deps { #expect(order.firstIndex(of: dep)! < order.firstIndex(of: service)!) }
        }
        #expect(order.count == 6)
    }

    @Test func waves() {
        #expect(graph.waves() == [["db", "cache", "bus"], ["migrate", "notifier"], ["api"]])
    }

    @Test func closure() {
        #expect(graph.closure(of: ["api"]) == ["api", "migrate", "db", "cache"])
        #expect(graph.closure(of: ["bus"]) == ["bus"])
    }

    @Test func dependents() {
        #expect(graph.dependents(of: "cache") == ["api", "notifier"])
        #expect(graph.dependents(of: "api").isEmpty)
    }

    @Test func noCycle() { #expect(graph.cycle() == nil) }

    @Test func findsCycle() {
        let cyclic = DependencyGraph(
            names: ["a", "b", "c", "d"], dependencies: ["a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]])
        let cycle = cyclic.cycle()
        #expect(cycle == ["a", "b", "c", "a"])
    }

    @Test func selfCycle() {
        #expect(DependencyGraph(names: ["a"], dependencies: ["a": ["a"]]).cycle() == ["a", "a"])
    }
}

@Suite struct ProbeScheduleTests {
    let schedule = ProbeSchedule(interval: .milliseconds(100))

    @Test func startsFast() {
        #expect(schedule.delay(afterWaiting: .zero) == .milliseconds(5))
        #expect(schedule.delay(afterWaiting: .milliseconds(30)) == .milliseconds(5))
    }

    @Test func backsOffWithElapsedTime() {
        #expect(schedule.delay(afterWaiting: .milliseconds(400)) == .milliseconds(40))
        #expect(schedule.delay(afterWaiting: .seconds(5)) == .milliseconds(100))
    }

    @Test func lateDetectionIsBoundedByTenPercent() {
        // Simulate a service ready at `readyAt`: the first check at or after it is at most 10 % (or 5 ms) late.
        for readyAtMs in stride(from: 0, through: 3000, by: 37) {
            var now = Duration.zero
            while now < .milliseconds(Int64(readyAtMs)) { now += schedule.delay(afterWaiting: now) }
            let late = now - .milliseconds(Int64(readyAtMs))
            #expect(late <= max(.milliseconds(5), .milliseconds(Int64(readyAtMs)) * 0.1 + .milliseconds(1)))
        }
    }

    @Test func neverAboveInterval() {
        let tight = ProbeSchedule(interval: .milliseconds(2))
        #expect(tight.delay(afterWaiting: .zero) == .milliseconds(2))
    }
}
