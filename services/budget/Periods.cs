namespace Gateway.Budget;

// Calendar-aligned budget periods in a time zone: a day from local midnight, a week from Monday, a month
// from the 1st. Returned as UTC instants.
public static class Periods
{
    public static (DateTimeOffset Start, DateTimeOffset End) Current(string period, TimeZoneInfo zone, DateTimeOffset now)
    {
        var local = TimeZoneInfo.ConvertTime(now, zone);
        var day = new DateTime(local.Year, local.Month, local.Day, 0, 0, 0, DateTimeKind.Unspecified);
        var (start, end) = period switch
        {
            "day" => (day, day.AddDays(1)),
            "week" => (day.AddDays(-(((int)day.DayOfWeek + 6) % 7)), day.AddDays(-(((int)day.DayOfWeek + 6) % 7) + 7)),
            _ => (new DateTime(local.Year, local.Month, 1, 0, 0, 0, DateTimeKind.Unspecified), new DateTime(local.Year, local.Month, 1, 0, 0, 0, DateTimeKind.Unspecified).AddMonths(1)),
        };
        return (ToUtc(start, zone), ToUtc(end, zone));
    }

    private static DateTimeOffset ToUtc(DateTime local, TimeZoneInfo zone)
    {
        // A local midnight skipped by a DST change starts at the first valid instant after it.
        while (zone.IsInvalidTime(local))
        {
            local = local.AddMinutes(30);
        }
        return new DateTimeOffset(local, zone.GetUtcOffset(local)).ToUniversalTime();
    }
}
