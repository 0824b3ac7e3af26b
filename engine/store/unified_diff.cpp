// unified_diff: line-based Myers diff printed like `diff -u`.
//
// The edit script comes from Myers' O(ND) algorithm in its linear-space form: find the middle
// snake by running the search from both ends, split there and recurse (the same bisection as
// diff-match-patch's diff_bisect). Common prefixes and suffixes are trimmed first, which is
// where most of the work goes for typical edits, and lines found in only one of the texts are
// set aside before the search. Lines are compared with their newline, so a last line without
// one differs from the same text with one, as in diff.
#include "store/diff.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ferry::store {

namespace {

constexpr int kContext = 3;

// Lines with their '\n'; the last one lacks it when the text does not end in a newline.
std::vector<std::string_view> split_lines(const std::string& text) {
    std::vector<std::string_view> lines;
    size_t start = 0;
    while (start < text.size()) {
        size_t nl = text.find('\n', start);
        size_t end = nl == std::string::npos ? text.size() : nl + 1;
        lines.emplace_back(text.data() + start, end - start);
        start = end;
    }
    return lines;
}

enum class Op { Equal, Delete, Insert };

struct Run {
    Op op;
    int count;
};

// Myers over two sequences of line ids; produces runs of equal / deleted / inserted lines.
class Myers {
  public:
    Myers(const std::vector<int>& a, const std::vector<int>& b) : a_(a), b_(b) {}

    std::vector<Run> run() {
        diff(0, static_cast<int>(a_.size()), 0, static_cast<int>(b_.size()));
        return std::move(runs_);
    }

  private:
    void emit(Op op, int count) {
        if (count <= 0) return;
        if (!runs_.empty() && runs_.back().op == op)
            runs_.back().count += count;
        else
            runs_.push_back({op, count});
    }

    void diff(int a0, int a1, int b0, int b1) {
        int prefix = 0;
        while (a0 < a1 && b0 < b1 && a_[a0] == b_[b0])
            ++a0, ++b0, ++prefix;
        int suffix = 0;
        while (a1 > a0 && b1 > b0 && a_[a1 - 1] == b_[b1 - 1])
            --a1, --b1, ++suffix;
        emit(Op::Equal, prefix);
        if (a0 == a1)
            emit(Op::Insert, b1 - b0);
        else if (b0 == b1)
            emit(Op::Delete, a1 - a0);
        else
            bisect(a0, a1, b0, b1);
        emit(Op::Equal, suffix);
    }

    // Runs the forward and the reverse search on diagonals k = x - y until the paths
    // overlap; the overlap point splits the problem into two halves of about D/2 each.
    void bisect(int a0, int a1, int b0, int b1) {
        const int n = a1 - a0, m = b1 - b0;
        const int max_d = (n + m + 1) / 2;
        const int offset = max_d;
        // Diagonals -max_d..max_d, and the k + 1 read on the last one: 2 * max_d + 2 slots.
        const int size = 2 * max_d + 2;
        std::vector<int> v1(size, -1), v2(size, -1);
        v1[offset + 1] = 0;
        v2[offset + 1] = 0;
        const int delta = n - m;
        // With an odd delta the forward path meets the reverse one; with an even delta the
        // reverse path meets the forward one.
        const bool front = (delta % 2) != 0;
        int k1start = 0, k1end = 0, k2start = 0, k2end = 0;
        for (int d = 0; d < max_d; ++d) {
            for (int k1 = -d + k1start; k1 <= d - k1end; k1 += 2) {
                const int k1_offset = offset + k1;
                int x1 = (k1 == -d || (k1 != d && v1[k1_offset - 1] < v1[k1_offset + 1]))
                             ? v1[k1_offset + 1]
                             : v1[k1_offset - 1] + 1;
                int y1 = x1 - k1;
                while (x1 < n && y1 < m && a_[a0 + x1] == b_[b0 + y1])
                    ++x1, ++y1;
                v1[k1_offset] = x1;
                if (x1 > n) {
                    k1end += 2;  // ran off the right of the grid
                } else if (y1 > m) {
                    k1start += 2;  // ran off the bottom
                } else if (front) {
                    const int k2_offset = offset + delta - k1;
                    if (k2_offset >= 0 && k2_offset < size && v2[k2_offset] != -1) {
                        const int x2 = n - v2[k2_offset];  // mirrored into forward coordinates
                        if (x1 >= x2) return split(a0, a1, b0, b1, x1, y1);
                    }
                }
            }
            for (int k2 = -d + k2start; k2 <= d - k2end; k2 += 2) {
                const int k2_offset = offset + k2;
                int x2 = (k2 == -d || (k2 != d && v2[k2_offset - 1] < v2[k2_offset + 1]))
                             ? v2[k2_offset + 1]
                             : v2[k2_offset - 1] + 1;
                int y2 = x2 - k2;
                while (x2 < n && y2 < m && a_[a1 - 1 - x2] == b_[b1 - 1 - y2])
                    ++x2, ++y2;
                v2[k2_offset] = x2;
                if (x2 > n) {
                    k2end += 2;
                } else if (y2 > m) {
                    k2start += 2;
                } else if (!front) {
                    const int k1_offset = offset + delta - k2;
                    if (k1_offset >= 0 && k1_offset < size && v1[k1_offset] != -1) {
                        const int x1 = v1[k1_offset];
                        const int y1 = offset + x1 - k1_offset;
                        if (x1 >= n - x2) return split(a0, a1, b0, b1, x1, y1);
                    }
                }
            }
        }
        // Unreachable when the search runs to max_d; kept as a correct (if not minimal) answer.
        emit(Op::Delete, n);
        emit(Op::Insert, m);
    }

    void split(int a0, int a1, int b0, int b1, int x, int y) {
        diff(a0, a0 + x, b0, b0 + y);
        diff(a0 + x, a1, b0 + y, b1);
    }

    const std::vector<int>& a_;
    const std::vector<int>& b_;
    std::vector<Run> runs_;
};

// A stretch of changed lines: a[a_begin, a_end) replaced by b[b_begin, b_end).
struct Change {
    int a_begin, a_end, b_begin, b_end;
};

// Changes between matched lines. `matches` are (a index, b index) pairs, increasing in both;
// whatever lies between two consecutive matches is one change, printed deletions first.
std::vector<Change> changes_between(const std::vector<std::pair<int, int>>& matches, int n, int m) {
    std::vector<Change> out;
    int ai = 0, bi = 0;
    for (const auto& [ma, mb] : matches) {
        if (ma > ai || mb > bi) out.push_back({ai, ma, bi, mb});
        ai = ma + 1;
        bi = mb + 1;
    }
    if (ai < n || bi < m) out.push_back({ai, n, bi, m});
    return out;
}

// "start,count" as diff -u writes it: 1-based, ",1" omitted, and an empty range named by the
// line before it.
std::string range(int begin, int count) {
    if (count == 0) return std::to_string(begin) + ",0";
    if (count == 1) return std::to_string(begin + 1);
    return std::to_string(begin + 1) + "," + std::to_string(count);
}

void put_line(std::string& out, char mark, std::string_view line) {
    out += mark;
    out.append(line);
    if (line.empty() || line.back() != '\n') out += "\n\\ No newline at end of file\n";
}

}  // namespace

std::string unified_diff(const std::string& a, const std::string& b, const std::string& a_label,
                         const std::string& b_label) {
    if (a == b) return {};
    std::vector<std::string_view> a_lines = split_lines(a), b_lines = split_lines(b);

    // Lines become small ids so the search compares integers, not strings.
    std::unordered_map<std::string_view, int> ids;
    ids.reserve(a_lines.size() + b_lines.size());
    auto intern = [&](const std::vector<std::string_view>& lines) {
        std::vector<int> out;
        out.reserve(lines.size());
        for (auto line : lines)
            out.push_back(ids.try_emplace(line, static_cast<int>(ids.size())).first->second);
        return out;
    };
    std::vector<int> a_ids = intern(a_lines), b_ids = intern(b_lines);

    // A line that does not occur at all in the other text can never be matched, so it is
    // left out of the search (as GNU diff does): the result is still minimal, and texts that
    // share little no longer cost O((N+M)D).
    std::vector<char> in_a(ids.size(), 0), in_b(ids.size(), 0);
    for (int id : a_ids)
        in_a[id] = 1;
    for (int id : b_ids)
        in_b[id] = 1;
    std::vector<int> a_keep, b_keep, a_kept_ids, b_kept_ids;  // original indices, and ids
    for (int i = 0; i < static_cast<int>(a_ids.size()); ++i)
        if (in_b[a_ids[i]]) a_keep.push_back(i), a_kept_ids.push_back(a_ids[i]);
    for (int i = 0; i < static_cast<int>(b_ids.size()); ++i)
        if (in_a[b_ids[i]]) b_keep.push_back(i), b_kept_ids.push_back(b_ids[i]);

    std::vector<std::pair<int, int>> matches;
    int x = 0, y = 0;
    for (const Run& r : Myers(a_kept_ids, b_kept_ids).run()) {
        if (r.op == Op::Equal)
            for (int i = 0; i < r.count; ++i)
                matches.emplace_back(a_keep[x + i], b_keep[y + i]);
        if (r.op != Op::Insert) x += r.count;
        if (r.op != Op::Delete) y += r.count;
    }
    std::vector<Change> changes = changes_between(matches, static_cast<int>(a_lines.size()),
                                                  static_cast<int>(b_lines.size()));

    std::string out = "--- " + a_label + "\n+++ " + b_label + "\n";
    out.reserve(out.size() + a.size() + b.size());
    const int n = static_cast<int>(a_lines.size());
    for (size_t first = 0; first < changes.size();) {
        // Changes whose contexts touch or overlap (at most 2 * context equal lines between
        // them) share one hunk, as in diff.
        size_t last = first;
        while (last + 1 < changes.size() &&
               changes[last + 1].a_begin - changes[last].a_end <= 2 * kContext)
            ++last;
        const Change& c0 = changes[first];
        const Change& c1 = changes[last];
        int a_lo = std::max(0, c0.a_begin - kContext);
        int b_lo = c0.b_begin - (c0.a_begin - a_lo);
        int a_hi = std::min(n, c1.a_end + kContext);
        int b_hi = c1.b_end + (a_hi - c1.a_end);
        out += "@@ -" + range(a_lo, a_hi - a_lo) + " +" + range(b_lo, b_hi - b_lo) + " @@\n";
        int pos = a_lo;
        for (size_t i = first; i <= last; ++i) {
            const Change& c = changes[i];
            for (; pos < c.a_begin; ++pos)
                put_line(out, ' ', a_lines[pos]);
            for (int j = c.a_begin; j < c.a_end; ++j)
                put_line(out, '-', a_lines[j]);
            for (int j = c.b_begin; j < c.b_end; ++j)
                put_line(out, '+', b_lines[j]);
            pos = c.a_end;
        }
        for (; pos < a_hi; ++pos)
            put_line(out, ' ', a_lines[pos]);
        first = last + 1;
    }
    return out;
}

}  // namespace ferry::store
