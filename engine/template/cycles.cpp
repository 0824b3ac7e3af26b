#include "template/cycles.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <unordered_map>

namespace ferry::tmpl {

namespace {

// A heap object that can hold others: the nodes of the graph. Strings and undefined values
// hold nothing and are left out.
bool holds_values(const HeapObject* h) {
    return dynamic_cast<const ListObj*>(h) || dynamic_cast<const DictObj*>(h) ||
           dynamic_cast<const Object*>(h);
}

template <class F>
class ChildReporter final : public HeldVisitor {
  public:
    explicit ChildReporter(F& f) : f_(f) {}
    void held(const Value& v) override {
        if (may_hold_values(v)) f_(v.identity());
    }
    void held(const HeapObject* h) override {
        if (h && holds_values(h)) f_(h);
    }

  private:
    F& f_;
};

// Calls f with each node h holds, once per reference (a list holding x twice reports it
// twice: both references are counted in x's refs).
template <class F>
void for_each_child(const HeapObject* h, F&& f) {
    if (const auto* list = dynamic_cast<const ListObj*>(h)) {
        for (const Value& v : list->items)
            if (may_hold_values(v)) f(v.identity());
    } else if (const auto* dict = dynamic_cast<const DictObj*>(h)) {
        for (const auto& [k, v] : dict->items()) {
            if (may_hold_values(k)) f(k.identity());
            if (may_hold_values(v)) f(v.identity());
        }
    } else if (const auto* object = dynamic_cast<const Object*>(h)) {
        ChildReporter<F> reporter(f);
        object->report_held(reporter);
    }
}

struct Node {
    int64_t outside_refs = 0;  // references from outside the graph
    bool reachable = false;
};

// Whether some suspect is held by more than the suspects list. A member of a cycle is held
// by another member, and every cycle holds a suspect (only a container taking a value closes
// one, and that container was noted): when no suspect is held elsewhere there is no cycle,
// and the walk over all they reach (the render's input data, often) is not needed.
bool held_beyond(const std::vector<Value>& suspects) {
    // The list's own references taken away for the look, then given back: what is left of
    // a count is held from elsewhere. Nothing is freed in between.
    for (const Value& s : suspects)
        --s.identity()->refs;
    bool held = std::any_of(suspects.begin(), suspects.end(),
                            [](const Value& s) { return s.identity()->refs > 0; });
    for (const Value& s : suspects)
        ++s.identity()->refs;
    return held;
}

}  // namespace

void free_unreachable_cycles(std::vector<Value> suspects) {
    if (suspects.empty() || !held_beyond(suspects)) return;
    std::unordered_map<const HeapObject*, Node> nodes;
    std::vector<const HeapObject*> order, stack;
    auto add = [&](const HeapObject* h) {
        if (nodes.emplace(h, Node{int64_t(h->refs), false}).second) {
            order.push_back(h);
            stack.push_back(h);
        }
    };
    for (const Value& s : suspects)
        add(s.identity());
    while (!stack.empty()) {
        const HeapObject* h = stack.back();
        stack.pop_back();
        for_each_child(h, add);
    }

    // What remains of a node's count once the graph's own references (and the suspects
    // list's) are taken away is held from outside: the node is alive, and so is all it holds.
    for (const Value& s : suspects)
        --nodes.at(s.identity()).outside_refs;
    for (const HeapObject* h : order)
        for_each_child(h, [&](const HeapObject* child) { --nodes.at(child).outside_refs; });
    for (const HeapObject* h : order) {
        Node& n = nodes.at(h);
        if (n.outside_refs <= 0 || n.reachable) continue;
        n.reachable = true;
        stack.push_back(h);
        while (!stack.empty()) {
            const HeapObject* at = stack.back();
            stack.pop_back();
            for_each_child(at, [&](const HeapObject* child) {
                Node& c = nodes.at(child);
                if (!c.reachable) {
                    c.reachable = true;
                    stack.push_back(child);
                }
            });
        }
    }

    // The rest is garbage. Each is held here while the lists and dicts among them are
    // emptied, so none is freed while another still points at it; then all go at once.
    std::vector<Ref<HeapObject>> garbage;
    for (const HeapObject* h : order)
        if (!nodes.at(h).reachable) garbage.emplace_back(const_cast<HeapObject*>(h));
    suspects.clear();
    std::vector<Value> dropped;
    for (const Ref<HeapObject>& g : garbage) {
        if (auto* list = dynamic_cast<ListObj*>(g.get())) {
            std::move(list->items.begin(), list->items.end(), std::back_inserter(dropped));
            list->items.clear();
        } else if (auto* dict = dynamic_cast<DictObj*>(g.get())) {
            for (auto& [k, v] : dict->release()) {
                dropped.push_back(std::move(k));
                dropped.push_back(std::move(v));
            }
        }
    }
    dropped.clear();
    garbage.clear();
}

}  // namespace ferry::tmpl
