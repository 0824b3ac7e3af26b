#include "runtime/integration/policy.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <limits>

namespace ferry {

uint64_t backoff_delay_ms(const RetryPolicy& p, int next_attempt, double random01) {
    int retry = std::max(1, next_attempt - 1);
    double base = double(p.initial_delay_ms) * std::pow(2.0, std::min(retry - 1, 40));
    base = std::min(base, double(p.max_delay_ms));
    double factor = 1.0 + p.jitter * (2.0 * random01 - 1.0);
    double delay = std::max(0.0, base * factor);
    return uint64_t(std::min(delay, double(p.max_delay_ms) * (1.0 + p.jitter)));
}

namespace {

int month_index(std::string_view m) {
    static const char* names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int i = 0; i < 12; ++i)
        if (m == names[i]) return i;
    return -1;
}

std::optional<int64_t> utc_seconds(int year, int month0, int day, int hh, int mm, int ss) {
    if (month0 < 0 || day < 1 || day > 31 || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 ||
        ss > 60 || year < 1900 || year > 9999)
        return std::nullopt;
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = month0;
    tm.tm_mday = day;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_sec = ss;
    return int64_t(timegm(&tm));
}

// An HTTP-date in the three forms RFC 9110 (5.6.7) says a recipient must accept:
// IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT" (what senders must use), the obsolete
// RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37 1994".
std::optional<int64_t> parse_http_date_s(std::string_view v, uint64_t now_unix_ms) {
    char wd[10] = {}, mon[4] = {}, zone[4] = {};
    int day = 0, year = 0, hh = 0, mm = 0, ss = 0, used = 0;
    std::string text(v);
    const char* c = text.c_str();
    auto whole = [&] { return size_t(used) == text.size(); };
    if (std::sscanf(c, "%3s, %d %3s %d %d:%d:%d %3s%n", wd, &day, mon, &year, &hh, &mm, &ss, zone,
                    &used) == 8 &&
        whole() && std::string_view(zone) == "GMT")
        return utc_seconds(year, month_index(mon), day, hh, mm, ss);
    used = 0;
    if (std::sscanf(c, "%9[A-Za-z], %d-%3s-%d %d:%d:%d %3s%n", wd, &day, mon, &year, &hh, &mm, &ss,
                    zone, &used) == 8 &&
        whole() && std::string_view(zone) == "GMT" && year >= 0 && year < 100) {
        // A two-digit year more than 50 years ahead is the latest past year with those digits.
        std::time_t now = std::time_t(now_unix_ms / 1000);
        std::tm utc{};
        gmtime_r(&now, &utc);
        int this_year = utc.tm_year + 1900;
        year += this_year / 100 * 100;
        if (year > this_year + 50) year -= 100;
        return utc_seconds(year, month_index(mon), day, hh, mm, ss);
    }
    used = 0;
    if (std::sscanf(c, "%3s %3s %d %d:%d:%d %d%n", wd, mon, &day, &hh, &mm, &ss, &year, &used) ==
            7 &&
        whole())
        return utc_seconds(year, month_index(mon), day, hh, mm, ss);
    return std::nullopt;
}

}  // namespace

std::optional<uint64_t> parse_retry_after_ms(std::string_view value, uint64_t now_unix_ms) {
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front())))
        value.remove_prefix(1);
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back())))
        value.remove_suffix(1);
    if (value.empty()) return std::nullopt;
    if (std::all_of(value.begin(), value.end(),
                    [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
        // Over 31 years: longer than any wait allowed, not "no header" (which retries)
        if (value.size() > 9) return std::numeric_limits<uint64_t>::max();
        return uint64_t(std::stoull(std::string(value))) * 1000;
    }
    auto at = parse_http_date_s(value, now_unix_ms);
    if (!at) return std::nullopt;
    int64_t diff_ms = *at * 1000 - int64_t(now_unix_ms);
    return diff_ms > 0 ? uint64_t(diff_ms) : 0;
}

AttemptVerdict judge_attempt(const AttemptFacts& f) {
    if (f.status == 429) return AttemptVerdict::Retry;  // refused: nothing was done
    if (f.status >= 500) return f.idempotent ? AttemptVerdict::Retry : AttemptVerdict::Ambiguous;
    if (f.webhook_delivery && f.status >= 300 && f.status != 410) return AttemptVerdict::Retry;
    if (f.status > 0) return AttemptVerdict::Done;
    switch (f.error) {
    case ErrorKind::Network:
    case ErrorKind::Timeout:
        if (!f.request_sent || f.idempotent) return AttemptVerdict::Retry;
        return AttemptVerdict::Ambiguous;
    default: return AttemptVerdict::Done;  // validation, limits, cancel: retrying cannot help
    }
}

TokenBucket::TokenBucket(double per_second, double burst)
    : per_second_(per_second), burst_(std::max(1.0, burst)) {}

uint64_t TokenBucket::take(uint64_t now_ms) {
    if (per_second_ <= 0) return 0;
    if (!started_) {
        started_ = true;
        tokens_ = burst_;
        last_ms_ = now_ms;
    }
    if (now_ms > last_ms_) {
        tokens_ = tokens_at(now_ms);
        last_ms_ = now_ms;
    }
    if (tokens_ >= 1.0) {
        tokens_ -= 1.0;
        return 0;
    }
    double missing = 1.0 - tokens_;
    return std::max<uint64_t>(1, uint64_t(std::ceil(missing * 1000.0 / per_second_)));
}

double TokenBucket::tokens_at(uint64_t now_ms) const {
    if (now_ms <= last_ms_) return tokens_;
    return std::min(burst_, tokens_ + double(now_ms - last_ms_) * per_second_ / 1000.0);
}

bool TokenBucket::full(uint64_t now_ms) const {
    return !started_ || per_second_ <= 0 || tokens_at(now_ms) >= burst_;
}

void TokenBucket::give_back() {
    if (started_ && per_second_ > 0) tokens_ = std::min(burst_, tokens_ + 1.0);
}

CircuitBreaker::CircuitBreaker(int failure_threshold, uint64_t reset_after_ms)
    : threshold_(failure_threshold), reset_after_ms_(reset_after_ms) {}

CircuitBreaker::State CircuitBreaker::state(uint64_t now_ms) const {
    if (!open_) return State::Closed;
    if (now_ms >= opened_at_ms_ + reset_after_ms_) return State::HalfOpen;
    return State::Open;
}

bool CircuitBreaker::refusing(uint64_t now_ms, uint64_t* retry_in_ms) const {
    if (threshold_ <= 0) return false;
    switch (state(now_ms)) {
    case State::Closed: return false;
    case State::HalfOpen:
        if (!probe_in_flight_ || now_ms >= probe_started_ms_ + reset_after_ms_) return false;
        if (retry_in_ms) *retry_in_ms = probe_started_ms_ + reset_after_ms_ - now_ms;
        return true;
    case State::Open:
        if (retry_in_ms) *retry_in_ms = opened_at_ms_ + reset_after_ms_ - now_ms;
        return true;
    }
    return false;
}

bool CircuitBreaker::allow(uint64_t now_ms, uint64_t* retry_in_ms) {
    if (refusing(now_ms, retry_in_ms)) return false;
    if (threshold_ > 0 && state(now_ms) == State::HalfOpen) {
        probe_in_flight_ = true;  // the single probe: the next ones are refused until it ends
        probe_started_ms_ = now_ms;
    }
    return true;
}

void CircuitBreaker::on_success() {
    failures_ = 0;
    open_ = false;
    probe_in_flight_ = false;
}

void CircuitBreaker::on_failure(uint64_t now_ms) {
    if (threshold_ <= 0) return;
    ++failures_;
    if (probe_in_flight_ || failures_ >= threshold_) {
        open_ = true;
        opened_at_ms_ = now_ms;
    }
    probe_in_flight_ = false;
}

std::string_view to_string(CircuitBreaker::State s) {
    switch (s) {
    case CircuitBreaker::State::Closed: return "closed";
    case CircuitBreaker::State::Open: return "open";
    case CircuitBreaker::State::HalfOpen: return "half_open";
    }
    return "closed";
}

}  // namespace ferry
