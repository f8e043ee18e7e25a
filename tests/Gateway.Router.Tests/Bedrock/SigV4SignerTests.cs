using System.Text;
using Gateway.Router.Providers.Bedrock;

namespace Gateway.Router.Tests.Bedrock;

// AWS's published aws-sig-v4-test-suite (credentials AKIDEXAMPLE, 2015-08-30T12:36:00Z, us-east-1,
// service "service"): the signer must reproduce each published signature exactly.
public sealed class SigV4SignerTests
{
    private const string AccessKeyId = "AKIDEXAMPLE";
    private const string Secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    private const string AmzDate = "20150830T123600Z";
    private const string SessionToken = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

    private static string Sign(string method, string query, string body, string expectedSignedHeaders, params (string Name, string Value)[] extra)
    {
        var headers = new List<(string, string)> { ("Host", "example.amazonaws.com"), ("X-Amz-Date", AmzDate) };
        headers.AddRange(extra);
        var (canonical, signedHeaders) = SigV4Signer.CanonicalRequest(method, "/", query, headers, SigV4Signer.HexSha256(Encoding.UTF8.GetBytes(body)));
        Assert.Equal(expectedSignedHeaders, signedHeaders);
        var scope = SigV4Signer.Scope(AmzDate, "us-east-1", "service");
        return SigV4Signer.Signature(Secret, AmzDate, "us-east-1", "service", SigV4Signer.StringToSign(AmzDate, scope, canonical));
    }

    [Fact]
    public void Signature_GetVanilla_MatchesSuite()
        => Assert.Equal("5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31", Sign("GET", "", "", "host;x-amz-date"));

    [Fact]
    public void Signature_GetVanillaQueryOrderKeyCase_SortsParameters()
        => Assert.Equal("b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500", Sign("GET", "Param2=value2&Param1=value1", "", "host;x-amz-date"));

    [Fact]
    public void Signature_GetHeaderValueTrim_TrimsAndCollapsesSpaces()
        => Assert.Equal("acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
            Sign("GET", "", "", "host;my-header1;my-header2;x-amz-date", ("My-Header1", " value1"), ("My-Header2", "\"a   b   c\"")));

    [Fact]
    public void Signature_GetHeaderKeyDuplicate_JoinsValuesInOrder()
        => Assert.Equal("c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
            Sign("GET", "", "", "host;my-header1;x-amz-date", ("My-Header1", "value2"), ("My-Header1", "value2"), ("My-Header1", "value1")));

    [Fact]
    public void Signature_PostVanilla_MatchesSuite()
        => Assert.Equal("5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b", Sign("POST", "", "", "host;x-amz-date"));

    [Fact]
    public void Signature_PostVanillaQuery_MatchesSuite()
        => Assert.Equal("28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11", Sign("POST", "Param1=value1", "", "host;x-amz-date"));

    [Fact]
    public void Signature_PostHeaderKeyCase_LowercasesNames()
        => Assert.Equal("c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c", Sign("POST", "", "", "host;my-header1;x-amz-date", ("MY-HEADER1", "value1")));

    [Fact]
    public void Signature_PostHeaderValueCase_KeepsValueCase()
        => Assert.Equal("cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d", Sign("POST", "", "", "host;my-header1;x-amz-date", ("My-Header1", "VALUE1")));

    [Fact]
    public void Signature_PostXWwwFormUrlencoded_HashesTheBody()
        => Assert.Equal("ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
            Sign("POST", "", "Param1=value1", "content-type;host;x-amz-date", ("Content-Type", "application/x-www-form-urlencoded")));

    [Fact]
    public void Signature_PostStsHeaderBefore_SignsTheSessionToken()
        => Assert.Equal("85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
            Sign("POST", "", "", "host;x-amz-date;x-amz-security-token", ("X-Amz-Security-Token", SessionToken)));

    [Fact]
    public void Sign_HttpRequest_AddsDateTokenAndAuthorizationWithTheSuiteSignature()
    {
        // post-sts-header-before, through the request-level entry point.
        using var request = new HttpRequestMessage(HttpMethod.Post, "https://example.amazonaws.com/");

        SigV4Signer.Sign(request, [], new AwsCredentials(AccessKeyId, Secret, SessionToken), "us-east-1", "service", new DateTimeOffset(2015, 8, 30, 12, 36, 0, TimeSpan.Zero));

        Assert.Equal(AmzDate, request.Headers.GetValues("X-Amz-Date").Single());
        Assert.Equal(SessionToken, request.Headers.GetValues("X-Amz-Security-Token").Single());
        Assert.Equal(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
            request.Headers.GetValues("Authorization").Single());
    }

    [Fact]
    public void CanonicalRequest_EscapedModelIdInPath_IsEncodedAgain()
    {
        // Services other than S3 sign the path as sent, encoded once more: ':' travels as %3A, signs as %253A.
        var (canonical, _) = SigV4Signer.CanonicalRequest("POST", "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse", "", [("host", "h")], SigV4Signer.HexSha256([]));

        Assert.StartsWith("POST\n/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse\n", canonical, StringComparison.Ordinal);
    }

    [Fact]
    public void Credentials_ToString_NeverShowsTheSecret()
        => Assert.DoesNotContain(Secret, new AwsCredentials(AccessKeyId, Secret, SessionToken).ToString(), StringComparison.Ordinal);
}
