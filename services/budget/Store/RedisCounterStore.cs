using StackExchange.Redis;

namespace Gateway.Budget.Store;

// Counters shared by every replica: each operation is one Lua script, which Redis runs atomically, so two
// replicas can never both take the last room in a budget. Layout per counter key K: hash K {committed,
// held}; hash K:h {reservation id -> held amount}; sorted set K:l {reservation id by lease end}. A
// reservation record `r:<id>` lists the counters it holds; once settled, `r:<id>:s` holds what the settlement committed. Amounts travel as integer strings: Lua numbers
// are doubles, so scripts compare with them but never hand one back to Redis as an amount.
public sealed class RedisCounterStore(Func<Task<IConnectionMultiplexer>> connect, string prefix = "gw:budget:") : ICounterStore
{
    public RedisCounterStore(IConnectionMultiplexer redis, string prefix = "gw:budget:")
        : this(() => Task.FromResult(redis), prefix)
    {
    }

    private const string ExpireFunction = """
        local function expire(k, now)
          local expired = redis.call('ZRANGEBYSCORE', k .. ':l', '-inf', now)
          for _, rid in ipairs(expired) do
            local a = redis.call('HGET', k .. ':h', rid)
            if a and a ~= '0' then redis.call('HINCRBY', k, 'held', '-' .. a) end
            redis.call('HDEL', k .. ':h', rid)
            redis.call('ZREM', k .. ':l', rid)
          end
        end
        """;

    private const string ReserveScript = ExpireFunction + "\n" + """
        local id = ARGV[1]
        local now = ARGV[2]
        local lease = ARGV[3]
        local record_key = ARGV[4]
        local record_ttl = ARGV[5]
        local n = #KEYS
        local levels = {}
        for i = 1, n do levels[i] = 0 end
        for i = 1, n do
          local k = KEYS[i]
          local base = 5 + (i - 1) * 4
          local limit = tonumber(ARGV[base + 1])
          local amount = tonumber(ARGV[base + 2])
          if ARGV[base + 3] ~= 'w' then expire(k, now) end
          local v = redis.call('HMGET', k, 'committed', 'held')
          local level = (tonumber(v[1]) or 0) + (tonumber(v[2]) or 0)
          levels[i] = level
          if limit >= 0 and level + amount > limit then
            return {i - 1, unpack(levels)}
          end
        end
        local record = {}
        for i = 1, n do
          local k = KEYS[i]
          local base = 5 + (i - 1) * 4
          local amount = ARGV[base + 2]
          local kind = ARGV[base + 3]
          if kind == 'w' then
            redis.call('HINCRBY', k, 'committed', amount)
            if redis.call('PTTL', k) < 0 then redis.call('PEXPIRE', k, ARGV[base + 4]) end
          else
            redis.call('HINCRBY', k, 'held', amount)
            redis.call('HSET', k .. ':h', id, amount)
            redis.call('ZADD', k .. ':l', lease, id)
            if kind == 'b' and ARGV[base + 4] ~= '0' then
              redis.call('PEXPIRE', k, ARGV[base + 4])
              redis.call('PEXPIRE', k .. ':h', ARGV[base + 4])
              redis.call('PEXPIRE', k .. ':l', ARGV[base + 4])
            end
            table.insert(record, kind .. '|' .. k)
          end
          levels[i] = levels[i] + tonumber(amount)
        end
        if #record > 0 then redis.call('SET', record_key, table.concat(record, '\n'), 'PX', record_ttl) end
        return {-1, unpack(levels)}
        """;

    // Settling twice is safe: the first run replaces the reservation record with `r:<id>:s`, the committed levels
    // it produced, kept for an hour, and a repeat (a retry after the first reply was lost) returns those again
    // without adding anything, so the caller can still book the ledger row it never got to write. The ledger
    // remembers booked reservations longer (SqlLedger.SettlementMemory), so the repeat is not booked twice.
    private const long SettledMemoryMs = 3_600_000;

    private const string SettleScript = """
        local rec = redis.call('GET', ARGV[1])
        if not rec then
          local done = redis.call('GET', ARGV[4])
          if not done then return {} end
          local out = {}
          for line in string.gmatch(done, '[^\n]+') do
            local k, c = string.match(line, '^(.*)|(%-?%d+)$')
            table.insert(out, k)
            table.insert(out, c)
          end
          return out
        end
        redis.call('DEL', ARGV[1])
        local id = ARGV[2]
        local out = {}
        local done = {}
        for line in string.gmatch(rec, '[^\n]+') do
          local kind = string.sub(line, 1, 1)
          local k = string.sub(line, 3)
          local a = redis.call('HGET', k .. ':h', id)
          if a then
            if a ~= '0' then redis.call('HINCRBY', k, 'held', '-' .. a) end
            redis.call('HDEL', k .. ':h', id)
            redis.call('ZREM', k .. ':l', id)
          end
          if kind == 'b' then
            local c = redis.call('HINCRBY', k, 'committed', ARGV[3])
            table.insert(out, k)
            table.insert(out, c)
            table.insert(done, k .. '|' .. c)
          end
        end
        if #done > 0 then redis.call('SET', ARGV[4], table.concat(done, '\n'), 'PX', ARGV[5]) end
        return out
        """;

    private const string ReadScript = ExpireFunction + "\n" + """
        expire(KEYS[1], ARGV[1])
        local v = redis.call('HMGET', KEYS[1], 'committed', 'held')
        return {tonumber(v[1]) or 0, tonumber(v[2]) or 0}
        """;

    private async Task<IDatabase> DbAsync() => (await connect()).GetDatabase();

    public async Task SeedAsync(string key, long committed, CancellationToken cancellationToken)
        => await (await DbAsync()).HashSetAsync(prefix + key, "committed", committed, When.NotExists);

    public async Task<ReserveResult> ReserveAsync(string reservationId, CounterEntry[] entries, long nowMs, long leaseUntilMs, CancellationToken cancellationToken)
    {
        var keys = new RedisKey[entries.Length];
        var args = new RedisValue[5 + entries.Length * 4];
        args[0] = reservationId;
        args[1] = nowMs;
        args[2] = leaseUntilMs;
        args[3] = prefix + "r:" + reservationId;
        // The record outlives the lease by a day so a late settle still commits what was spent.
        args[4] = leaseUntilMs - nowMs + 86_400_000;
        for (var i = 0; i < entries.Length; i++)
        {
            var entry = entries[i];
            keys[i] = prefix + entry.Key;
            args[5 + i * 4] = entry.Limit;
            args[6 + i * 4] = entry.Amount;
            args[7 + i * 4] = entry.Kind switch { CounterKind.Budget => "b", CounterKind.Concurrency => "c", _ => "w" };
            // Relative to the ledger's clock, not Redis's, so both agree on when a period is over.
            args[8 + i * 4] = entry.Kind == CounterKind.Window ? Math.Max(1, entry.WindowMilliseconds) : entry.ExpireAtMs > nowMs ? entry.ExpireAtMs - nowMs : 0;
        }
        var result = (RedisResult[])(await (await DbAsync()).ScriptEvaluateAsync(ReserveScript, keys, args))!;
        var levels = new long[entries.Length];
        for (var i = 0; i < levels.Length; i++)
        {
            levels[i] = (long)result[i + 1];
        }
        return new ReserveResult((int)(long)result[0], levels);
    }

    public async Task<IReadOnlyList<Settled>> SettleAsync(string reservationId, long cost, long nowMs, CancellationToken cancellationToken)
    {
        var result = (RedisResult[])(await (await DbAsync()).ScriptEvaluateAsync(SettleScript, [], [prefix + "r:" + reservationId, reservationId, cost, prefix + "r:" + reservationId + ":s", SettledMemoryMs]))!;
        var settled = new List<Settled>(result.Length / 2);
        for (var i = 0; i + 1 < result.Length; i += 2)
        {
            settled.Add(new Settled(((string)result[i]!)[prefix.Length..], (long)result[i + 1]));
        }
        return settled;
    }

    public async Task<CounterLevel> ReadAsync(string key, long nowMs, CancellationToken cancellationToken)
    {
        var result = (RedisResult[])(await (await DbAsync()).ScriptEvaluateAsync(ReadScript, [prefix + key], [nowMs]))!;
        return new CounterLevel((long)result[0], (long)result[1]);
    }

    public async Task<long> AdjustAsync(string key, long delta, CancellationToken cancellationToken)
        => await (await DbAsync()).HashIncrementAsync(prefix + key, "committed", delta);

    public async Task<bool> MarkOnceAsync(string marker, CancellationToken cancellationToken)
        => await (await DbAsync()).StringSetAsync(prefix + "m:" + marker, 1, TimeSpan.FromDays(40), When.NotExists);
}
