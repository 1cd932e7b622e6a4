// Entry point of the stand-alone CAN code generator (codecs, and the matrix in Docs/can.md) that `make codegen` compiles together with
// HostHarness/HostHarness/DBC/*.swift and HarnessError.swift only, so that regenerating never
// depends on the firmware (whose generated file it rewrites) compiling.
import Foundation

let arguments = Array(CommandLine.arguments.dropFirst())
let dbcPath = arguments.count > 0 ? arguments[0] : "Fixtures/bms.dbc"
let outPath = arguments.count > 1 ? arguments[1] : DBCCodeGenerator.outputPath
let documentPath = arguments.count > 2 ? arguments[2] : DBCMatrixDocument.documentPath
do {
    let dbc = try DBCFile.load(path: dbcPath)
    let source = try DBCCodeGenerator.generate(dbc, source: dbcPath)
    try Data(source.utf8).write(to: URL(fileURLWithPath: outPath))
    print("\(dbcPath) (\(dbc.messages.count) messages) -> \(outPath)")
    guard let document = FileManager.default.contents(atPath: documentPath).flatMap({ String(data: $0, encoding: .utf8) }) else {
        throw HarnessError("\(documentPath): cannot read the document")
    }
    try Data(try DBCMatrixDocument.updating(document, with: dbc).utf8).write(to: URL(fileURLWithPath: documentPath))
    print("\(dbcPath) -> the message matrix in \(documentPath)")
} catch {
    FileHandle.standardError.write(Data("codegen: \(error)\n".utf8))
    exit(1)
}
