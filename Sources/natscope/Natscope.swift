import ArgumentParser

@main
struct Natscope: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "natscope",
    abstract:
      "See why two machines can or cannot connect directly: NAT behaviour, STUN, TURN, ICE.",
    version: NatscopeVersion.current,
    subcommands: []
  )
}

enum NatscopeVersion {
  static let current = "0.1.0"
}
