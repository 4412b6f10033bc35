import Report
import Sessions
import Simulation
import Traversal

/// In these tests `Realm` is the simulator's address realm, not STUN's REALM attribute.
typealias Realm = Simulation.Realm
/// The RFC 4787 vocabulary the simulator's NATs share with the probe.
typealias MappingBehavior = Traversal.MappingBehavior
typealias FilteringBehavior = Traversal.FilteringBehavior
