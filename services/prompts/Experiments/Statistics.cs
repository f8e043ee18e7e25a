namespace Gateway.Prompts.Experiments;

public sealed record TestResult(double Difference, double Statistic, double PValue, double CiLow, double CiHigh, double DegreesOfFreedom);

// The distributions and tests behind experiment verdicts, written out so the numbers can be checked against
// textbook tables: the normal CDF through the regularized incomplete gamma function (erfc(x) = Q(1/2, x²)),
// Student's t CDF through the regularized incomplete beta function, quantiles by bisection on the CDFs.
public static class Statistics
{
    private const double Epsilon = 1e-15;
    private const double Tiny = 1e-300;
    private const int MaxIterations = 500;

    private static readonly double[] Lanczos =
    [
        0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
        12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
    ];

    // ln Γ(x) for x > 0 (Lanczos, g = 7: about 15 significant digits).
    public static double LogGamma(double x)
    {
        if (x < 0.5)
        {
            // Reflection: Γ(x)Γ(1-x) = π / sin(πx).
            return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LogGamma(1 - x);
        }
        x -= 1;
        var sum = Lanczos[0];
        for (var i = 1; i < Lanczos.Length; i++)
        {
            sum += Lanczos[i] / (x + i);
        }
        var t = x + 7.5;
        return 0.5 * Math.Log(2 * Math.PI) + (x + 0.5) * Math.Log(t) - t + Math.Log(sum);
    }

    // Regularized upper incomplete gamma Q(a, x): series below a+1, continued fraction (Lentz) above.
    public static double GammaQ(double a, double x)
    {
        if (x <= 0)
        {
            return 1;
        }
        var prefix = Math.Exp(-x + a * Math.Log(x) - LogGamma(a));
        if (x < a + 1)
        {
            double term = 1 / a, sum = term, ap = a;
            for (var n = 0; n < MaxIterations && Math.Abs(term) > Math.Abs(sum) * Epsilon; n++)
            {
                ap += 1;
                term *= x / ap;
                sum += term;
            }
            return 1 - sum * prefix;
        }
        double b = x + 1 - a, c = 1 / Tiny, d = 1 / b, h = d;
        for (var i = 1; i < MaxIterations; i++)
        {
            var an = -i * (i - a);
            b += 2;
            d = Guard(an * d + b);
            c = Guard(b + an / c);
            d = 1 / d;
            var delta = d * c;
            h *= delta;
            if (Math.Abs(delta - 1) < Epsilon)
            {
                break;
            }
        }
        return prefix * h;
    }

    public static double Erfc(double x) => x >= 0 ? GammaQ(0.5, x * x) : 2 - GammaQ(0.5, x * x);

    public static double NormalCdf(double z) => 0.5 * Erfc(-z / Math.Sqrt(2));

    // Regularized incomplete beta I_x(a, b), by its continued fraction on the side where it converges fast.
    public static double IncompleteBeta(double a, double b, double x)
    {
        if (x <= 0)
        {
            return 0;
        }
        if (x >= 1)
        {
            return 1;
        }
        var front = Math.Exp(LogGamma(a + b) - LogGamma(a) - LogGamma(b) + a * Math.Log(x) + b * Math.Log(1 - x));
        return x < (a + 1) / (a + b + 2)
            ? front * BetaFraction(a, b, x) / a
            : 1 - front * BetaFraction(b, a, 1 - x) / b;
    }

    private static double BetaFraction(double a, double b, double x)
    {
        double qab = a + b, qap = a + 1, qam = a - 1, c = 1, d = 1 / Guard(1 - qab * x / qap), h = d;
        for (var m = 1; m <= MaxIterations; m++)
        {
            var m2 = 2 * m;
            var aa = m * (b - m) * x / ((qam + m2) * (a + m2));
            d = 1 / Guard(1 + aa * d);
            c = Guard(1 + aa / c);
            h *= d * c;
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
            d = 1 / Guard(1 + aa * d);
            c = Guard(1 + aa / c);
            var delta = d * c;
            h *= delta;
            if (Math.Abs(delta - 1) < Epsilon)
            {
                break;
            }
        }
        return h;
    }

    private static double Guard(double value) => Math.Abs(value) < Tiny ? Tiny : value;

    // P(T <= t) for Student's t with `df` (not necessarily whole) degrees of freedom.
    public static double StudentTCdf(double t, double df)
    {
        var tail = 0.5 * IncompleteBeta(df / 2, 0.5, df / (df + t * t));
        return t >= 0 ? 1 - tail : tail;
    }

    public static double NormalQuantile(double p) => Invert(NormalCdf, p);

    public static double StudentTQuantile(double p, double df) => Invert(t => StudentTCdf(t, df), p);

    private static double Invert(Func<double, double> cdf, double p)
    {
        if (p is <= 0 or >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(p), "p must be strictly between 0 and 1.");
        }
        double low = -1, high = 1;
        while (cdf(low) > p)
        {
            low *= 2;
        }
        while (cdf(high) < p)
        {
            high *= 2;
        }
        for (var i = 0; i < 200 && high - low > 1e-12 * Math.Max(1, Math.Abs(low)); i++)
        {
            var mid = (low + high) / 2;
            if (cdf(mid) < p)
            {
                low = mid;
            }
            else
            {
                high = mid;
            }
        }
        return (low + high) / 2;
    }

    // Two-proportion z-test of B against A (pooled standard error for the test, unpooled for the interval
    // on p_B - p_A). Two-sided p-value.
    public static TestResult TwoProportion(long successesA, long totalA, long successesB, long totalB, double confidence = 0.95)
    {
        double pa = (double)successesA / totalA, pb = (double)successesB / totalB;
        var pooled = (double)(successesA + successesB) / (totalA + totalB);
        var pooledSe = Math.Sqrt(pooled * (1 - pooled) * (1.0 / totalA + 1.0 / totalB));
        var z = pooledSe > 0 ? (pb - pa) / pooledSe : 0;
        var p = pooledSe > 0 ? 2 * NormalCdf(-Math.Abs(z)) : 1;
        var se = Math.Sqrt(pa * (1 - pa) / totalA + pb * (1 - pb) / totalB);
        var margin = NormalQuantile(0.5 + confidence / 2) * se;
        return new TestResult(pb - pa, z, p, pb - pa - margin, pb - pa + margin, double.PositiveInfinity);
    }

    // Welch's t-test of mean B against mean A (unequal variances, Welch–Satterthwaite degrees of freedom).
    public static TestResult Welch(double meanA, double varianceA, long countA, double meanB, double varianceB, long countB, double confidence = 0.95)
    {
        double va = varianceA / countA, vb = varianceB / countB;
        var se = Math.Sqrt(va + vb);
        var difference = meanB - meanA;
        if (se == 0)
        {
            return new TestResult(difference, 0, difference == 0 ? 1 : 0, difference, difference, countA + countB - 2);
        }
        var df = (va + vb) * (va + vb) / (va * va / (countA - 1) + vb * vb / (countB - 1));
        var t = difference / se;
        var p = 2 * StudentTCdf(-Math.Abs(t), df);
        var margin = StudentTQuantile(0.5 + confidence / 2, df) * se;
        return new TestResult(difference, t, p, difference - margin, difference + margin, df);
    }
}
