using Gateway.Contracts.Prompts.V1;
using Gateway.Prompts.Experiments;

namespace Gateway.Prompts.Tests;

public sealed class StickyAssignmentTests
{
    private static Experiment Experiment(string sticky, params int[] weights)
    {
        var experiment = new Experiment { Id = "tone-test", Prompt = "support", Label = "production", Sticky = sticky, Status = "running" };
        for (var i = 0; i < weights.Length; i++)
        {
            experiment.Arms.Add(new Arm { Name = ((char)('a' + i)).ToString(), Version = i + 1, Weight = weights[i] });
        }
        return experiment;
    }

    [Fact]
    public async Task Resolve_SameUser1000Times_AlwaysGetsTheSameArm()
    {
        await using var harness = new CatalogHarness();
        await harness.CreateAsync("support", """{"text":"v1"}""");
        await harness.CreateAsync("support", """{"text":"v2"}""");
        await harness.Catalog.SetLabelAsync(new SetLabelRequest { Name = "support", Label = "production", Version = 1, Admin = true }, CancellationToken.None);
        await harness.Catalog.StartExperimentAsync(new StartExperimentRequest
        {
            Id = "tone", Prompt = "support", Label = "production", Sticky = "user", Admin = true,
            Arms = { new Arm { Name = "a", Version = 1, Weight = 50 }, new Arm { Name = "b", Version = 2, Weight = 50 } },
        }, CancellationToken.None);

        foreach (var user in new[] { "alice", "bob", "carol" })
        {
            var arms = new HashSet<(string, int, string)>();
            for (var i = 0; i < 1000; i++)
            {
                var resolved = await harness.ResolveAsync("support", user: user);
                arms.Add((resolved.Arm, resolved.Version, resolved.Messages[0].Content[0].Text));
                Assert.Equal("tone", resolved.Experiment);
            }
            var (arm, version, text) = Assert.Single(arms);
            Assert.Equal(arm == "a" ? (1, "v1") : (2, "v2"), (version, text));
        }
    }

    [Theory]
    [InlineData(50, 50)]
    [InlineData(90, 10)]
    [InlineData(20, 30, 50)]
    public void Assign_10000Users_SplitsWithinTolerance(params int[] weights)
    {
        var experiment = Experiment("user", weights);
        const int users = 10_000;

        var counts = Enumerable.Range(0, users)
            .Select(i => ArmAssigner.Assign(experiment, ArmAssigner.Subject(experiment, new ResolveRequest { User = $"user-{i}" })).Name)
            .GroupBy(a => a).ToDictionary(g => g.Key, g => g.Count());

        var total = weights.Sum();
        for (var i = 0; i < weights.Length; i++)
        {
            var expected = (double)weights[i] / total;
            var share = counts.GetValueOrDefault(((char)('a' + i)).ToString()) / (double)users;
            // Four standard deviations of a binomial share at n = 10,000: about ±0.02 at p = 0.5.
            var tolerance = 4 * Math.Sqrt(expected * (1 - expected) / users);
            Assert.InRange(share, expected - tolerance, expected + tolerance);
        }
    }

    [Fact]
    public void Subject_StickyBySessionOrKey_FallsBackToCoarserIdentity()
    {
        var bySession = Experiment("session", 1, 1);
        var byKey = Experiment("key", 1, 1);

        Assert.Equal("session:s1", ArmAssigner.Subject(bySession, new ResolveRequest { Session = "s1", User = "u", KeyName = "k" }));
        Assert.Equal("user:u", ArmAssigner.Subject(bySession, new ResolveRequest { User = "u", KeyName = "k" }));
        Assert.Equal("key:k", ArmAssigner.Subject(byKey, new ResolveRequest { User = "u", KeyName = "k" }));
        // Two users on one key share the key's arm when the experiment is sticky by key.
        Assert.Equal(ArmAssigner.Assign(byKey, ArmAssigner.Subject(byKey, new ResolveRequest { User = "u1", KeyName = "k" })),
            ArmAssigner.Assign(byKey, ArmAssigner.Subject(byKey, new ResolveRequest { User = "u2", KeyName = "k" })));
    }
}
