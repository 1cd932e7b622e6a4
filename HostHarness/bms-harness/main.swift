// bms-harness: the SwiftBMS host harness. All the work is in the HostHarness library.
import Foundation
import HostHarness

exit(Harness.main(Array(CommandLine.arguments.dropFirst())))
