import Network
import STUN
import Testing

/// Default gateways from the Linux routing tables' text.
@Suite struct GatewaysTests {
  @Test func ipv4DefaultRouteGivesItsGateway() {
    let text = """
      Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
      eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
      eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
      wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0
      tun0\t0000000A\t0100000A\t0003\t0\t0\t0\t000000FF\t0\t0\t0
      """
    #expect(Gateways.parseIPv4Routes(text) == [IPAddress("192.168.1.1")].compactMap { $0 })
  }

  @Test func ipv6DefaultRouteGivesItsNextHop() {
    let text = """
      20010db8000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
      00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000002 00000000 00000003     eth0
      00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
      """
    #expect(Gateways.parseIPv6Routes(text) == [IPAddress("fe80::1")].compactMap { $0 })
  }

  @Test func garbageGivesNothing() {
    #expect(Gateways.parseIPv4Routes("not a route table\n\n zz zz") == [])
    #expect(Gateways.parseIPv6Routes("0 0 0") == [])
  }
}
