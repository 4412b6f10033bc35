/// `count` and `noun`, with the noun's plural unless the count is 1: "1 request", "7 requests".
/// For the regular English plurals natscope's sentences use (request, try → tries, pair, …).
public func counted(_ count: Int, _ noun: String) -> String {
  guard count != 1 else { return "\(count) \(noun)" }
  if noun.hasSuffix("y"), let last = noun.dropLast().last, !"aeiou".contains(last) {
    return "\(count) \(noun.dropLast())ies"
  }
  return "\(count) \(noun)s"
}
