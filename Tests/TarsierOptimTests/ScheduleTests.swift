import TarsierCore
import XCTest

@testable import TarsierOptim

/// Learning-rate schedules against PyTorch 1.13 (Fixtures/schedules.safetensors): the lr used at
/// each of 30 steps by SGD with base lr 0.1, driven through `Scheduler`.
final class ScheduleFixtureTests: XCTestCase {
    static let names = ["step", "multistep", "cosine", "onecycle_linear", "onecycle_cos",
                        "onecycle_linear_3phase", "onecycle_cos_3phase", "warmup_cosine"]
    let tolerance = 1e-12

    /// The schedule a fixture case describes, read from its metadata.
    static func makeSchedule(_ name: String, _ fx: Fixture) throws -> any LearningRateSchedule {
        switch try fx.string("\(name).scheduler") {
        case "StepLR":
            return StepLR(stepSize: try fx.int("\(name).step_size"), gamma: try fx.double("\(name).gamma"))
        case "MultiStepLR":
            return MultiStepLR(milestones: try fx.doubleList("\(name).milestones").map { Int($0) },
                               gamma: try fx.double("\(name).gamma"))
        case "CosineAnnealingLR":
            return CosineAnnealingLR(totalSteps: try fx.int("\(name).T_max"), minimumLR: try fx.double("\(name).eta_min"))
        case "OneCycleLR":
            guard let strategy = AnnealStrategy(rawValue: try fx.string("\(name).anneal_strategy")) else {
                throw FixtureError("unknown anneal strategy")
            }
            return OneCycleLR(maxLR: try fx.double("\(name).max_lr"), totalSteps: try fx.int("\(name).total_steps"),
                              pctStart: try fx.double("\(name).pct_start"), annealStrategy: strategy,
                              divFactor: try fx.double("\(name).div_factor"),
                              finalDivFactor: try fx.double("\(name).final_div_factor"),
                              threePhase: try fx.bool("\(name).three_phase"),
                              cycleMomentum: try fx.bool("\(name).cycle_momentum"),
                              baseMomentum: try fx.double("\(name).base_momentum"),
                              maxMomentum: try fx.double("\(name).max_momentum"))
        case "SequentialLR":
            let warmup = try fx.int("\(name).s0.total_iters")
            XCTAssertEqual(try fx.int("\(name).milestones"), warmup)
            XCTAssertEqual(try fx.double("\(name).s0.end_factor"), 1)
            return WarmupCosine(warmupSteps: warmup, totalSteps: warmup + (try fx.int("\(name).s1.T_max")),
                                startFactor: try fx.double("\(name).s0.start_factor"),
                                minimumLR: try fx.double("\(name).s1.eta_min"))
        case let other:
            throw FixtureError("unknown scheduler \(other)")
        }
    }

    func testEveryScheduleMatchesPyTorch() throws {
        let fx = try Fixture("schedules.safetensors")
        let steps = try fx.int("steps")
        XCTAssertEqual(steps, 30)
        let cases = Set(fx.metadata.keys.compactMap { $0.hasSuffix(".scheduler") && $0.split(separator: ".").count == 2
            ? String($0.split(separator: ".")[0]) : nil })
        XCTAssertEqual(cases, Set(Self.names))
        for name in Self.names {
            let schedule = try Self.makeSchedule(name, fx)
            let sgd = SGD(parameters: [Tensor(shape: [1], data: [0.0]).requiringGrad()],
                          learningRate: try fx.double("base_lr"), momentum: 0.9)
            let scheduler = Scheduler(schedule: schedule, optimizer: sgd)
            var rates: [Double] = [], momenta: [Double] = []
            for s in 0..<steps {
                scheduler.apply(step: s)
                rates.append(sgd.groups[0].learningRate ?? .nan)
                momenta.append(sgd.groups[0].momentum ?? .nan)
            }
            assertClose(rates, try fx.doubles("\(name).lr"), tolerance: tolerance, "\(name) lr")
            if fx.tensors["\(name).momentum"] != nil {
                assertClose(momenta, try fx.doubles("\(name).momentum"), tolerance: tolerance, "\(name) momentum")
            } else {
                XCTAssertNil(schedule.momentum(at: 0), name)
            }
            // Pure functions of the step: asking again, out of order, gives the same values.
            assertClose((0..<steps).reversed().map { schedule.learningRate(at: $0, base: 0.1) }.reversed(), rates,
                        tolerance: 0, "\(name) recomputed")
        }
    }

    func testOneCyclePeakIsNotHitAtAFractionalPhaseEnd() throws {
        let fx = try Fixture("schedules.safetensors")
        let rates = try fx.doubles("onecycle_cos.lr")
        XCTAssertLessThan(rates.max() ?? 1, 0.2)
        let schedule = OneCycleLR(maxLR: 0.2, totalSteps: 30, pctStart: 0.25)
        XCTAssertEqual(schedule.learningRate(at: 0), 0.2 / 25, accuracy: 1e-16)
        XCTAssertEqual(schedule.learningRate(at: 29), 0.2 / 25 / 1e4, accuracy: 1e-19)
        XCTAssertEqual(schedule.learningRate(at: 500), schedule.learningRate(at: 29), "clamped past the end")
    }
}

final class ScheduleBehaviourTests: XCTestCase {
    /// The Fashion-MNIST anchor's LambdaLR: (s+1)/warm, then max(0, (total−s)/(total−warm)).
    func testLinearOneCycleMatchesTheAnchorFormula() {
        for (fraction, total) in [(0.2, 10), (0.2, 4690), (0.0, 7), (0.3, 1)] {
            let schedule = LinearOneCycle(warmupFraction: fraction, totalSteps: total)
            let warm = max(1, Int(fraction * Double(total)))
            XCTAssertEqual(schedule.warmupSteps, warm)
            for s in 0..<(total + 3) {
                let expected = s < warm ? Double(s + 1) / Double(warm)
                    : max(0.0, Double(total - s) / Double(max(1, total - warm)))
                XCTAssertEqual(schedule.factor(at: s), expected, accuracy: 1e-15, "fraction \(fraction) total \(total) step \(s)")
            }
        }
        let small = LinearOneCycle(warmupFraction: 0.2, totalSteps: 10)
        assertClose((0..<11).map { small.learningRate(at: $0, base: 0.2) },
                    [0.1, 0.2, 0.2, 0.175, 0.15, 0.125, 0.1, 0.075, 0.05, 0.025, 0], tolerance: 1e-15, "by hand")
        let cosine = LinearOneCycle(warmupFraction: 0.2, totalSteps: 10, decay: .cos)
        XCTAssertEqual(cosine.factor(at: 2), 1)
        XCTAssertEqual(cosine.factor(at: 6), 0.5, accuracy: 1e-15)
        XCTAssertEqual(cosine.factor(at: 10), 0)
    }

    func testStepSchedulesByHand() {
        let step = StepLR(stepSize: 3, gamma: 0.5)
        XCTAssertEqual((0..<8).map { step.factor(at: $0) }, [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25])
        let multi = MultiStepLR(milestones: [4, 2], gamma: 0.1)
        assertClose((0..<6).map { multi.factor(at: $0) }, [1, 1, 0.1, 0.1, 0.01, 0.01], tolerance: 1e-17, "multistep")
        XCTAssertEqual(ConstantLR().learningRate(at: 99, base: 0.3), 0.3)
        let warm = WarmupCosine(warmupSteps: 0, totalSteps: 4)
        XCTAssertEqual(warm.learningRate(at: 0, base: 1), 1)
        XCTAssertEqual(warm.learningRate(at: 2, base: 1), 0.5, accuracy: 1e-15)
        XCTAssertEqual(warm.learningRate(at: 9, base: 1), 0, "stays at the minimum after the end")
        XCTAssertEqual(CosineAnnealingLR(totalSteps: 4, minimumLR: 0.1).learningRate(at: 4, base: 1), 0.1, accuracy: 1e-15)
    }

    func testScheduleKindParsesNamesAndListsValidOnes() throws {
        XCTAssertEqual(try ScheduleKind(parsing: "warmup-cosine"), .warmupCosine)
        XCTAssertEqual(try ScheduleKind(parsing: " OneCycle "), .onecycle)
        XCTAssertEqual(try ScheduleKind(parsing: "warmup_cosine"), .warmupCosine)
        XCTAssertEqual(ScheduleKind(rawValue: "multistep"), .multistep)
        XCTAssertEqual(ScheduleKind.validNames,
                       ["constant", "step", "multistep", "cosine", "onecycle", "warmup-cosine", "linear-onecycle"])
        XCTAssertThrowsError(try ScheduleKind(parsing: "cosin")) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.contains("unknown schedule 'cosin'"), text)
            for name in ScheduleKind.validNames { XCTAssertTrue(text.contains(name), text) }
        }
    }

    func testScheduleKindBuildsUsableSchedules() throws {
        for kind in ScheduleKind.allCases {
            let schedule = try kind.makeSchedule(totalSteps: 100, warmupFraction: 0.1, maxLearningRate: 0.4)
            let rates = (0..<100).map { schedule.learningRate(at: $0, base: 0.4) }
            XCTAssertTrue(rates.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 0.4 + 1e-12 }, "\(kind): \(rates)")
            XCTAssertGreaterThan(rates[0], 0, "\(kind)")
        }
        XCTAssertThrowsError(try ScheduleKind.onecycle.makeSchedule(totalSteps: 100, warmupFraction: 0, maxLearningRate: 1))
        XCTAssertThrowsError(try ScheduleKind.cosine.makeSchedule(totalSteps: 1, maxLearningRate: 1))
        XCTAssertThrowsError(try ScheduleKind.cosine.makeSchedule(totalSteps: 10, warmupFraction: 1, maxLearningRate: 1))
    }
}
