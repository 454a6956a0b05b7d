// The umbrella module: `import Tarsier` brings in the whole library.
@_exported import TarsierCore
@_exported import TarsierNN
@_exported import TarsierOptim
@_exported import TarsierImage
@_exported import TarsierData
@_exported import TarsierVision
@_exported import TarsierTrain
@_exported import TarsierEval
@_exported import TarsierSupport
