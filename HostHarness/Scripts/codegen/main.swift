// Entry point of the stand-alone CAN code generator that `make codegen` compiles together with
// HostHarness/HostHarness/DBC/*.swift and HarnessError.swift only, so that regenerating never
// depends on the firmware (whose generated file it rewrites) compiling.
import Foundation

let arguments = Array(CommandLine.arguments.dropFirst())
let dbcPath = arguments.count > 0 ? arguments[0] : "Fixtures/bms.dbc"
let outPath = arguments.count > 1 ? arguments[1] : DBCCodeGenerator.outputPath
do {
    let dbc = try DBCFile.load(path: dbcPath)
    let source = try DBCCodeGenerator.generate(dbc, source: dbcPath)
    try Data(source.utf8).write(to: URL(fileURLWithPath: outPath))
    print("\(dbcPath) (\(dbc.messages.count) messages) -> \(outPath)")
} catch {
    FileHandle.standardError.write(Data("codegen: \(error)\n".utf8))
    exit(1)
}
