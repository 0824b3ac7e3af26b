// LuaVM's chunks: compiling text (never bytecode), locating syntax errors, and running a
// file's top level under its own budget.
#include "runtime/lua_vm.h"

#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

namespace {

// A file's top level runs when it is loaded (a task definition, a hook, a module), outside
// any task and its limits: this bounds it, so a file that loops at load time fails to load
// instead of hanging `ferry validate`, `ferry serve` or whatever opened the project.
constexpr int kChunkHookInterval = 1000;
constexpr int kChunkInstructionBudget = 100'000'000;  // a top level normally runs thousands
// Bytes a file's top level may allocate while loading (all of them, freed or not): a
// definition table takes kilobytes. Without it a runaway top level grew to the VM's 1 GiB
// cap, and every command that loads the tasks waited for it (25 s).
constexpr size_t kChunkAllocationBudget = size_t(256) << 20;
thread_local int chunk_instructions = 0;

void chunk_budget_hook(lua_State* L, lua_Debug*) {
    chunk_instructions += kChunkHookInterval;
    if (chunk_instructions > kChunkInstructionBudget) {
        luaL_error(L,
                   "the file's top level ran more than %d instructions while loading (a loop "
                   "that never ends?)",
                   kChunkInstructionBudget);
    }
}

// Lua reports a syntax error's line and the token it stopped at ("... near 'x'"), not its
// column, so the column is found here (1-based, in bytes):
// - at the end of the text ("near <eof>"): just past the line's last byte;
// - a token that appears once on its line: there;
// - a token that appears several times: the first occurrence whose text, cut just after
//   it, fails with the same message. Lua parses left to right, so the text up to the
//   token it stopped at fails at that token as the whole text did, while one cut after an
//   earlier occurrence either loads or fails at its end;
// - otherwise (a message that names no token): the line's first non-blank byte.
bool is_name_byte(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

int syntax_error_column(lua_State* L, const std::string& chunkname, std::string_view text, int line,
                        std::string_view message, std::string_view body) {
    if (line < 1) return 0;
    size_t begin = 0;
    for (int l = 1; l < line; ++l) {
        begin = text.find('\n', begin);
        if (begin == std::string_view::npos) return 0;
        ++begin;
    }
    const size_t end = text.find('\n', begin);
    std::string_view row =
        text.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
    if (!row.empty() && row.back() == '\r') row.remove_suffix(1);
    const size_t first_byte = row.find_first_not_of(" \t");
    const int fallback = first_byte == std::string_view::npos ? 1 : int(first_byte) + 1;
    if (body.ends_with(" near <eof>")) return int(row.size()) + 1;

    constexpr std::string_view kNear = " near '";
    const size_t near = body.rfind(kNear);
    if (near == std::string_view::npos || body.back() != '\'' ||
        body.size() <= near + kNear.size() + 1)
        return fallback;
    const std::string_view token =
        body.substr(near + kNear.size(), body.size() - 1 - near - kNear.size());
    std::vector<size_t> places;
    for (size_t at = row.find(token); at != std::string_view::npos; at = row.find(token, at + 1)) {
        // "end" inside "ending" is not the token.
        const bool cut_before = at > 0 && is_name_byte(token.front()) && is_name_byte(row[at - 1]);
        const size_t after = at + token.size();
        const bool cut_after =
            after < row.size() && is_name_byte(token.back()) && is_name_byte(row[after]);
        if (!cut_before && !cut_after) places.push_back(at);
    }
    if (places.empty()) return fallback;
    if (places.size() == 1) return int(places[0]) + 1;
    for (size_t at : places) {
        const std::string_view prefix = text.substr(0, begin + at + token.size());
        const int status =
            luaL_loadbufferx(L, prefix.data(), prefix.size(), chunkname.c_str(), "t");
        const char* again = status == LUA_OK ? nullptr : lua_tostring(L, -1);
        const bool same = again && message == again;
        lua_pop(L, 1);
        if (same) return int(at) + 1;
    }
    return fallback;
}

// The error luaL_loadbufferx left on the stack, popped: "file.lua:12: message" -> a located
// Validation error.
Error load_error(lua_State* L, const std::string& chunkname, std::string_view text) {
    std::string msg = lua_tostring(L, -1) ? lua_tostring(L, -1) : "cannot load chunk";
    lua_pop(L, 1);
    SourceLocation where;
    std::string file = chunkname.size() > 1 && (chunkname[0] == '@' || chunkname[0] == '=')
                           ? chunkname.substr(1)
                           : chunkname;
    std::string body = msg;
    if (msg.compare(0, file.size(), file) == 0 && msg.size() > file.size() &&
        msg[file.size()] == ':') {
        size_t colon = msg.find(':', file.size() + 1);
        if (colon != std::string::npos) {
            where.line = std::atoi(msg.c_str() + file.size() + 1);
            body = msg.substr(colon + 2 <= msg.size() ? colon + 2 : colon);
            where.column = syntax_error_column(L, chunkname, text, where.line, msg, body);
        }
    }
    if (where.line < 1) {
        // Not a position in the text (a binary chunk refused): the file as a whole.
        where.line = 1;
        where.column = 1;
    }
    where.file = file;
    return make_error(ErrorKind::Validation, body, where);
}

}  // namespace

Status LuaVM::check_syntax(const std::string& chunkname, const std::string& text) {
    if (luaL_loadbufferx(L_, text.data(), text.size(), chunkname.c_str(), "t") != LUA_OK)
        return load_error(L_, chunkname, text);
    lua_pop(L_, 1);
    return ok_status();
}

Result<int> LuaVM::load_chunk(const std::string& chunkname, const std::string& text) {
    std::string key = chunkname;
    key += '\0';
    key += text;
    auto it = chunk_cache_.find(key);
    if (it != chunk_cache_.end()) return it->second;
    lua_State* L = L_;
    int status = luaL_loadbufferx(L, text.data(), text.size(), chunkname.c_str(), "t");
    if (status != LUA_OK) return load_error(L, chunkname, text);
    push_env();
    lua_setupvalue(L, -2, 1);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    chunk_cache_.emplace(std::move(key), ref);
    return ref;
}

Result<int> LuaVM::run_chunk(int chunk_ref) {
    lua_State* L = L_;
    lua_pushcfunction(L, [](lua_State* S) -> int {
        // An error table's message (read raw: no metamethod of the file's runs here), or
        // what the error object was: a bare traceback says nothing.
        const char* message = lua_tostring(S, 1);
        if (!message && lua_istable(S, 1)) {
            lua_pushliteral(S, "message");
            if (lua_rawget(S, 1) == LUA_TSTRING) message = lua_tostring(S, -1);
        }
        if (!message)
            message = lua_pushfstring(S, "(error object is a %s value)", luaL_typename(S, 1));
        luaL_traceback(S, S, message, 1);
        return 1;
    });
    int handler = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, chunk_ref);
    chunk_instructions = 0;
    const size_t outer_ceiling = alloc_ceiling_;
    const bool outer_hit = ceiling_hit_;
    const size_t chunk_ceiling = allocated_total_ + kChunkAllocationBudget;
    const bool own_ceiling = chunk_ceiling < outer_ceiling;
    if (own_ceiling) alloc_ceiling_ = chunk_ceiling;
    lua_sethook(L, chunk_budget_hook, LUA_MASKCOUNT, kChunkHookInterval);
    int status = lua_pcall(L, 0, 1, handler);
    lua_sethook(L, nullptr, 0, 0);
    const bool chunk_budget_hit = own_ceiling && ceiling_hit_;
    if (own_ceiling) {
        alloc_ceiling_ = outer_ceiling;
        ceiling_hit_ = outer_hit;
    }
    if (status != LUA_OK) {
        std::string msg = lua_tostring(L, -1) ? lua_tostring(L, -1) : "error loading chunk";
        lua_settop(L, handler - 1);
        if (chunk_budget_hit) {
            msg = "the file's top level allocated more than " +
                  std::to_string(kChunkAllocationBudget >> 20) + " MiB while loading (" + msg + ")";
        }
        return make_error(status == LUA_ERRMEM ? ErrorKind::Limit : ErrorKind::LuaError, msg);
    }
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_settop(L, handler - 1);
    return ref;
}

}  // namespace ferry
