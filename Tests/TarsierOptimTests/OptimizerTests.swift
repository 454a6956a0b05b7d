import TarsierCore
import TarsierSupport
import XCTest

@testable import TarsierOptim

/// SGD, Adam and AdamW against PyTorch 1.13 (Fixtures/optim.safetensors): 3 steps in Float64
/// with fixed gradients, comparing parameters and state buffers after every step.
final class OptimizerFixtureTests: XCTestCase {
    static let cases = ["sgd", "sgd_momentum", "sgd_nesterov_wd", "sgd_momentum_wd",
                        "adam", "adam_wd", "adamw", "adam_amsgrad"]
    let tolerance = 1e-10

    func testSGD() throws { try check("sgd") }
    func testSGDMomentum() throws { try check("sgd_momentum") }
    func testSGDNesterovWeightDecay() throws { try check("sgd_nesterov_wd") }
    func testSGDMomentumWeightDecay() throws { try check("sgd_momentum_wd") }
    func testAdam() throws { try check("adam") }
    func testAdamWeightDecay() throws { try check("adam_wd") }
    func testAdamW() throws { try check("adamw") }
    func testAdamAMSGrad() throws { try check("adam_amsgrad") }

    func testEveryFixtureCaseIsCovered() throws {
        let fixture = try Fixture("optim.safetensors")
        let names = Set(fixture.metadata.keys.compactMap { key -> String? in
            key.hasSuffix(".optimizer") ? String(key.dropLast(".optimizer".count)) : nil
        })
        XCTAssertEqual(names, Set(Self.cases))
        XCTAssertEqual(try fixture.int("steps"), 3)
        XCTAssertEqual(try fixture.int("num_params"), 2)
    }

    /// Builds the optimizer a fixture case describes.
    static func makeOptimizer(_ name: String, _ fixture: Fixture, parameters: [Tensor]) throws -> OptimizerBase {
        let lr = try fixture.double("\(name).lr")
        let wd = try fixture.double("\(name).weight_decay")
        let maximize = try fixture.bool("\(name).maximize")
        switch try fixture.string("\(name).optimizer") {
        case "SGD":
            return SGD(parameters: parameters, learningRate: lr, momentum: try fixture.double("\(name).momentum"),
                       dampening: try fixture.double("\(name).dampening"), weightDecay: wd,
                       nesterov: try fixture.bool("\(name).nesterov"), maximize: maximize)
        case let kind:
            let betas = try fixture.doubleList("\(name).betas")
            XCTAssertEqual(betas.count, 2)
            let eps = try fixture.double("\(name).eps"), ams = try fixture.bool("\(name).amsgrad")
            if kind == "AdamW" {
                return AdamW(parameters: parameters, learningRate: lr, betas: (betas[0], betas[1]), epsilon: eps,
                             weightDecay: wd, amsgrad: ams, maximize: maximize)
            }
            XCTAssertEqual(kind, "Adam")
            return Adam(parameters: parameters, learningRate: lr, betas: (betas[0], betas[1]), epsilon: eps,
                        weightDecay: wd, amsgrad: ams, maximize: maximize)
        }
    }

    /// Produces each parameter's gradient by a backward pass of Σ (p ⊙ g), whose gradient is g.
    static func backward(_ parameters: [Tensor], step k: Int, _ fixture: Fixture) throws {
        var loss: Tensor?
        for (i, p) in parameters.enumerated() {
            let g = try fixture.tensor("grads.step\(k).\(i)").cast(to: p.dtype)
            let term = (p * g).sum()
            loss = loss.map { $0 + term } ?? term
        }
        loss?.backward()
    }

    /// Compares the parameters and every state buffer after step k.
    func compare(_ name: String, _ optimizer: OptimizerBase, _ parameters: [Tensor], step k: Int,
                 _ fixture: Fixture, tolerance: Double, file: StaticString = #filePath, line: UInt = #line) throws {
        for (i, p) in parameters.enumerated() {
            assertClose(p.toDoubleArray(), try fixture.doubles("\(name).params.step\(k).\(i)"), tolerance: tolerance,
                        "\(name) parameter \(i) after step \(k)", file: file, line: line)
            let prefix = "\(name).state.step\(k).\(i)."
            let expectedNames = Set(fixture.tensors.keys.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) })
            let state = optimizer.state(group: 0, index: i)
            XCTAssertEqual(Set(state.buffers.keys), expectedNames, "\(name) buffers of parameter \(i)", file: file, line: line)
            XCTAssertEqual(state.step, k + 1, file: file, line: line)
            for buffer in expectedNames {
                guard let storage = state.buffer(named: buffer) else { continue }
                assertClose(StateBuffer(copying: storage).doubles, try fixture.doubles(prefix + buffer),
                            tolerance: tolerance, "\(name) \(buffer) of parameter \(i) after step \(k)", file: file, line: line)
            }
        }
    }

    func check(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let fixture = try Fixture("optim.safetensors")
        let parameters = try (0..<2).map { try fixture.tensor("params.init.\($0)").requiringGrad() }
        // A second handle on the same storage, as a module holds its parameters: updates are in place.
        let moduleView = parameters[0]
        let storage = parameters[0].storage
        let optimizer = try Self.makeOptimizer(name, fixture, parameters: parameters)
        for k in 0..<3 {
            optimizer.zeroGrad()
            XCTAssertNil(parameters[0].grad)
            try Self.backward(parameters, step: k, fixture)
            XCTAssertEqual(parameters[1].grad?.toDoubleArray(), try fixture.doubles("grads.step\(k).1"))
            optimizer.step()
            try compare(name, optimizer, parameters, step: k, fixture, tolerance: tolerance, file: file, line: line)
        }
        XCTAssertTrue(parameters[0].storage === storage)
        XCTAssertEqual(moduleView.toDoubleArray(), parameters[0].toDoubleArray())
        XCTAssertEqual(optimizer.stepCount, 3)
    }

    /// Saving after one step and loading into a fresh optimizer reproduces steps 2 and 3.
    func testStateDictResumesEveryCase() throws {
        let fixture = try Fixture("optim.safetensors")
        for name in Self.cases {
            let first = try (0..<2).map { try fixture.tensor("params.init.\($0)").requiringGrad() }
            let a = try Self.makeOptimizer(name, fixture, parameters: first)
            try Self.backward(first, step: 0, fixture)
            a.step()
            let saved = a.stateDict()
            XCTAssertEqual(saved.stepCount, 1)
            XCTAssertEqual(saved.parameterSteps, ["0.0": 1, "0.1": 1])
            XCTAssertEqual(Set(saved.buffers.keys.map { String($0.split(separator: ".")[2]) }),
                           name == "sgd" ? [] : Set(a.stateBufferNames), name)

            let resumed = first.map { Tensor(shape: $0.shape, data: $0.toDoubleArray()).requiringGrad() }
            let b = try Self.makeOptimizer(name, fixture, parameters: resumed)
            try b.loadStateDict(saved)
            XCTAssertEqual(b.stateDict(), saved)
            for k in 1..<3 {
                b.zeroGrad()
                try Self.backward(resumed, step: k, fixture)
                b.step()
                try compare(name, b, resumed, step: k, fixture, tolerance: tolerance)
            }
        }
    }

    /// Float32 parameters follow the same maths to Float32 precision.
    func testFloat32ParametersTrackTheFloat64Reference() throws {
        let fixture = try Fixture("optim.safetensors")
        for name in ["sgd_nesterov_wd", "adam_amsgrad", "adamw"] {
            let parameters = try (0..<2).map { try fixture.tensor("params.init.\($0)").cast(to: .float32).requiringGrad() }
            let optimizer = try Self.makeOptimizer(name, fixture, parameters: parameters)
            for k in 0..<3 {
                optimizer.zeroGrad()
                try Self.backward(parameters, step: k, fixture)
                optimizer.step()
            }
            XCTAssertEqual(parameters[0].dtype, .float32)
            for i in 0..<2 {
                assertClose(parameters[i].toDoubleArray(), try fixture.doubles("\(name).params.step2.\(i)"),
                            tolerance: 1e-5, "\(name) float32 parameter \(i)")
            }
        }
    }
}

/// Groups, frozen parameters, missing gradients and checkpoint validation.
final class OptimizerBehaviourTests: XCTestCase {
    func leaf(_ values: [Double]) -> Tensor { Tensor(shape: [values.count], data: values).requiringGrad() }

    func setGradient(_ p: Tensor, _ values: [Double]) {
        p.gradNode?.zeroGrad()
        p.gradNode?.accumulate(Tensor(shape: [values.count], data: values))
    }

    func testGroupsInheritDefaultsAndKeepTheirOwnValues() {
        let a = leaf([1, 2]), b = leaf([3, 4])
        let sgd = SGD(groups: [ParameterGroup(name: "body", parameters: [a]),
                               ParameterGroup(name: "head", parameters: [b], learningRate: 0.01, weightDecay: 0.5)],
                      learningRate: 0.1, weightDecay: 0.1)
        XCTAssertEqual(sgd.groups.map(\.learningRate), [0.1, 0.01])
        XCTAssertEqual(sgd.groups.map(\.baseLearningRate), [0.1, 0.01])
        XCTAssertEqual(sgd.groups.map(\.weightDecay), [0.1, 0.5])
        setGradient(a, [1, 1])
        setGradient(b, [1, 1])
        sgd.step()
        // p − lr·(g + wd·p)
        assertClose(a.toDoubleArray(), [1 - 0.1 * (1 + 0.1), 2 - 0.1 * (1 + 0.2)], tolerance: 1e-15, "body")
        assertClose(b.toDoubleArray(), [3 - 0.01 * (1 + 1.5), 4 - 0.01 * (1 + 2)], tolerance: 1e-15, "head")
    }

    func testSplittingWeightDecayExemptsBiasesAndNorms() {
        let weight = Tensor(zeros: [2, 3], dtype: .float64).requiringGrad(), bias = leaf([0, 0])
        let groups = ParameterGroup.splittingWeightDecay([bias, weight], weightDecay: 5e-4)
        XCTAssertEqual(groups.map(\.name), ["decay", "no_decay"])
        XCTAssertEqual(groups.map(\.weightDecay), [5e-4, 0])
        XCTAssertEqual(groups.map { $0.parameters.map(\.shape) }, [[[2, 3]], [[2]]])
        XCTAssertEqual(ParameterGroup.splittingWeightDecay([bias], weightDecay: 1).map(\.name), ["no_decay"])
        let sgd = SGD(groups: groups, learningRate: 0.1, weightDecay: 0.9)
        XCTAssertEqual(sgd.groups.map(\.weightDecay), [5e-4, 0], "explicit values beat the default")
        XCTAssertEqual(sgd.groups[0].parameterCount, 6)
    }

    func testSchedulerScalesEachGroupsBaseRate() {
        let sgd = SGD(groups: [ParameterGroup(parameters: [leaf([1])]),
                               ParameterGroup(parameters: [leaf([1])], learningRate: 0.01)], learningRate: 0.1)
        let scheduler = Scheduler(schedule: StepLR(stepSize: 1, gamma: 0.5), optimizer: sgd)
        scheduler.apply(step: 2)
        assertClose(sgd.groups.compactMap(\.learningRate), [0.025, 0.0025], tolerance: 1e-18, "step 2")
        scheduler.apply(step: 0)
        assertClose(sgd.groups.compactMap(\.learningRate), [0.1, 0.01], tolerance: 0, "back to step 0")
        XCTAssertNil(sgd.groups[0].momentum)
    }

    func testOneCycleMomentumDrivesSGD() {
        let p = leaf([0])
        let sgd = SGD(parameters: [p], learningRate: 0.1, momentum: 0.9)
        let scheduler = Scheduler(schedule: OneCycleLR(maxLR: 1, totalSteps: 10), optimizer: sgd)
        scheduler.apply(step: 0)
        XCTAssertEqual(sgd.groups[0].momentum, 0.95)
        // Cosine annealing at pct 0 reproduces the start value only to rounding, as in PyTorch.
        XCTAssertEqual(sgd.groups[0].learningRate ?? 0, 1.0 / 25, accuracy: 1e-15)
        for _ in 0..<2 {
            setGradient(p, [1])
            sgd.step()
        }
        // b1 = 1, b2 = 0.95 + 1; p = −0.04·(1 + 1.95)
        assertClose(p.toDoubleArray(), [-0.04 * (1 + 1.95)], tolerance: 1e-15, "momentum 0.95 used")
    }

    func testFrozenParametersAndMissingGradientsAreSkipped() {
        let frozen = leaf([1, 1]), sometimes = leaf([1, 1]), always = leaf([1, 1])
        frozen.gradNode?.requiresGrad = false
        let adam = Adam(parameters: [frozen, sometimes, always], learningRate: 0.1)
        setGradient(frozen, [1, 1])
        setGradient(sometimes, [1, 1])
        setGradient(always, [1, 1])
        adam.step()
        adam.zeroGrad()
        XCTAssertNil(always.grad)
        setGradient(always, [1, 1])
        adam.step()
        XCTAssertEqual(frozen.toDoubleArray(), [1, 1])
        XCTAssertEqual(adam.state(group: 0, index: 0).step, 0)
        XCTAssertTrue(adam.state(group: 0, index: 0).buffers.isEmpty)
        XCTAssertEqual(adam.state(group: 0, index: 1).step, 1)
        XCTAssertEqual(adam.state(group: 0, index: 2).step, 2)
        XCTAssertEqual(adam.stepCount, 2)
        // Adam's first bias-corrected step moves by lr·sign(g) (up to eps), whatever the gradient scale.
        assertClose(sometimes.toDoubleArray(), [0.9, 0.9], tolerance: 1e-8, "one Adam step")
    }

    func testMaximizeAscends() {
        let p = leaf([1])
        let sgd = SGD(parameters: [p], learningRate: 0.5, maximize: true)
        setGradient(p, [2])
        sgd.step()
        XCTAssertEqual(p.toDoubleArray(), [2])
    }

    func testLoadStateDictRejectsWhatDoesNotFit() throws {
        let p = leaf([1, 2, 3])
        let adam = Adam(parameters: [p])
        func message(_ state: OptimizerState) -> String {
            do {
                try adam.loadStateDict(state)
                return "no error"
            } catch let error as OptimizerStateError {
                return error.description
            } catch {
                return "unexpected \(error)"
            }
        }
        XCTAssertTrue(message(OptimizerState(stepCount: 1, buffers: ["0.0.momentum_buffer": .float64([0, 0, 0])]))
            .contains("keeps no buffer 'momentum_buffer' (it keeps: exp_avg, exp_avg_sq)"))
        XCTAssertTrue(message(OptimizerState(stepCount: 1, buffers: ["0.1.exp_avg": .float64([0, 0, 0])]))
            .contains("names parameter 1 of group 0"))
        XCTAssertTrue(message(OptimizerState(stepCount: 1, buffers: ["1.0.exp_avg": .float64([0, 0, 0])]))
            .contains("names group 1, the optimizer has 1"))
        XCTAssertTrue(message(OptimizerState(stepCount: 1, buffers: ["0.0.exp_avg": .float32([0, 0])]))
            .contains("has 2 values"))
        XCTAssertTrue(message(OptimizerState(stepCount: 1, parameterSteps: ["zero": 1])).contains("key 'zero'"))
        // A failed load leaves the optimizer as it was; a good one replaces its state.
        XCTAssertEqual(adam.stepCount, 0)
        XCTAssertEqual(message(OptimizerState(stepCount: 4, parameterSteps: ["0.0": 4],
                                              buffers: ["0.0.exp_avg": .float32([1, 2, 3])])), "no error")
        XCTAssertEqual(adam.stepCount, 4)
        XCTAssertEqual(adam.state(group: 0, index: 0).step, 4)
        XCTAssertEqual(adam.stateDict().buffers["0.0.exp_avg"], .float64([1, 2, 3]))
    }
}
