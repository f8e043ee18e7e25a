#!/usr/bin/env python3
"""Generates corpus.jsonl: labelled texts for the guard's detector scorer (GuardCorpusTests).

Every text comes from a realistic template (support tickets, chat, logs, CSV, code, e-mail, config) in
several languages; every sensitive value is labelled with its type. Values are synthetic but valid the
way real ones are (Luhn, IBAN mod-97, Base58Check, Bech32, SSN ranges). Hard negatives (order ids failing
Luhn, UUIDs, hashes, versions, OIDs, CIDR ranges, AWS's documented EXAMPLE keys, placeholders, invalid
SSNs/IBANs, tx hashes) are texts with no labels, or mixed into labelled ones.

Run: python3 generate_corpus.py > corpus.jsonl   (seeded: the output is stable)
"""
import hashlib, json, random, string, base64

R = random.Random(20261127)
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

def luhn_complete(prefix, length):
    body = prefix + "".join(R.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for d in string.digits:
        n = body + d
        s = 0
        for i, c in enumerate(reversed(n)):
            v = int(c)
            if i % 2 == 1:
                v *= 2
                if v > 9: v -= 9
            s += v
        if s % 10 == 0:
            return n
def luhn_ok(n):
    s = 0
    for i, c in enumerate(reversed(n)):
        v = int(c)
        if i % 2 == 1:
            v *= 2
            if v > 9: v -= 9
        s += v
    return s % 10 == 0

CARD_PREFIXES = [("4", 16), ("4", 13), ("4", 19), ("51", 16), ("53", 16), ("55", 16), ("2221", 16), ("2720", 16), ("2500", 16),
                 ("34", 15), ("37", 15), ("6011", 16), ("65", 16), ("644", 16), ("36", 14), ("3530", 16), ("3589", 19), ("62", 16), ("62", 19)]
def card():
    prefix, length = R.choice(CARD_PREFIXES)
    n = luhn_complete(prefix, length)
    style = R.choice(["plain", "space", "dash", "space"])
    if style == "plain" or length not in (15, 16):
        return n
    sep = " " if style == "space" else "-"
    if length == 15:
        return sep.join([n[:4], n[4:10], n[10:]])
    return sep.join(n[i:i+4] for i in range(0, 16, 4))

def bad_luhn_order_id():
    while True:
        n = "".join(R.choice(string.digits) for _ in range(16))
        if not luhn_ok(n): return n

IBAN_SPECS = {"DE": "n18", "GB": "a4n14", "FR": "n23", "ES": "n20", "IT": "a1n22", "NL": "a4n10", "CH": "n17", "AT": "n16", "BE": "n12", "PL": "n24"}
def iban(valid=True):
    cc = R.choice(list(IBAN_SPECS))
    spec = IBAN_SPECS[cc]
    bban = ""
    import re
    for kind, count in re.findall(r"([an])(\d+)", spec):
        pool = string.ascii_uppercase if kind == "a" else string.digits
        bban += "".join(R.choice(pool) for _ in range(int(count)))
    num = "".join(str(int(c, 36)) for c in bban + cc + "00")
    check = 98 - int(num) % 97
    if not valid:
        check = (check + 1 + R.randrange(90)) % 97 + 2
    s = f"{cc}{check:02d}{bban}"
    if R.random() < 0.5:
        s = " ".join(s[i:i+4] for i in range(0, len(s), 4))
    return s

def ssn():
    area = R.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}-{R.randint(1,99):02d}-{R.randint(1,9999):04d}"
def bad_ssn():
    return R.choice([f"000-{R.randint(10,99)}-{R.randint(1000,9999)}", f"666-{R.randint(10,99)}-{R.randint(1000,9999)}",
                     f"9{R.randint(10,99)}-{R.randint(10,99)}-{R.randint(1000,9999)}", f"{R.randint(100,599)}-00-{R.randint(1000,9999)}"])

def ipv4():
    kind = R.random()
    if kind < 0.3: return f"10.{R.randint(0,255)}.{R.randint(0,255)}.{R.randint(1,254)}"
    if kind < 0.5: return f"192.168.{R.randint(0,255)}.{R.randint(1,254)}"
    return f"{R.randint(11,223)}.{R.randint(0,255)}.{R.randint(0,255)}.{R.randint(1,254)}"
def ipv6():
    groups = [f"{R.randint(0,0xffff):x}" for _ in range(8)]
    if R.random() < 0.5:
        return "2001:db8:" + ":".join(groups[:2]) + "::" + groups[7]
    return "2a02:" + ":".join(groups[1:])

def b58encode(b):
    n = int.from_bytes(b, "big"); out = ""
    while n: n, r = divmod(n, 58); out = B58[r] + out
    return "1" * (len(b) - len(b.lstrip(b"\0"))) + out
def btc_base58(version=0):
    payload = bytes([version]) + bytes(R.randrange(256) for _ in range(20))
    chk = hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    return b58encode(payload + chk)
CH = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
def polymod(values):
    gen = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3]; chk = 1
    for v in values:
        b = chk >> 25; chk = (chk & 0x1ffffff) << 5 ^ v
        for i in range(5): chk ^= gen[i] if ((b >> i) & 1) else 0
    return chk
def bech32(hrp="bc"):
    prog = [R.randrange(256) for _ in range(20)]
    acc = bits = 0; data = [0]
    for b in prog:
        acc = (acc << 8) | b; bits += 8
        while bits >= 5: bits -= 5; data.append((acc >> bits) & 31)
    if bits: data.append((acc << (5 - bits)) & 31)
    hrpx = [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]
    pm = polymod(hrpx + data + [0]*6) ^ 1
    chk = [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(CH[d] for d in data + chk)
def eth():
    return "0x" + "".join(R.choice("0123456789abcdef") for _ in range(40))
def crypto():
    return R.choice([btc_base58(0), btc_base58(5), bech32(), eth(), eth()])
def bad_btc():
    a = list(btc_base58(0)); i = R.randrange(5, len(a)); a[i] = R.choice([c for c in B58 if c != a[i]]); return "".join(a)

def rnd(pool, n): return "".join(R.choice(pool) for _ in range(n))
AN = string.ascii_letters + string.digits
def secret():
    k = R.randrange(13)
    if k == 0: return "AKIA" + rnd(string.ascii_uppercase + string.digits, 16)
    if k == 1: return "ghp_" + rnd(AN, 36)
    if k == 2: return "sk-proj-" + rnd(AN + "_-", 48) + "T3BlbkFJ" + rnd(AN, 20)
    if k == 3: return "sk-ant-api03-" + rnd(AN + "_-", 93) + "AA"
    if k == 4: return f"xoxb-{R.randint(10**11,10**12)}-{R.randint(10**11,10**12)}-" + rnd(AN, 24)
    if k == 5: return "AIza" + rnd(AN + "_-", 35)
    if k == 6: return "sk_live_" + rnd(AN, 24)
    if k == 7: return "hf_" + rnd(AN, 34)
    if k == 8: return "SG." + rnd(AN + "_-", 22) + "." + rnd(AN + "_-", 43)
    if k == 9:
        h = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
        p = base64.urlsafe_b64encode(json.dumps({"sub": str(R.randint(1000,9999)), "iat": 1700000000 + R.randint(0, 10**6)}).encode()).decode().rstrip("=")
        return f"{h}.{p}.{rnd(AN + '_-', 43)}"
    if k == 10: return "github_pat_" + rnd(AN, 22) + "_" + rnd(AN, 59)
    if k == 11: return "rk_test_" + rnd(AN, 30)
    return "gho_" + rnd(AN, 36)
def password(): return rnd(AN, 6) + R.choice("!#%&*@^") + rnd(AN, 8)
def private_key():
    body = "\n".join(rnd(AN + "+/", 64) for _ in range(3))
    kind = R.choice(["RSA ", "EC ", "OPENSSH ", ""])
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----"

FIRST = ["James", "Maria", "Sarah", "David", "Rahul", "Priya", "Wei", "Fatima", "Jürgen", "Sabine", "Pierre", "Camille", "Javier", "Lucía",
         "Giulia", "Marco", "Anouk", "Daan", "Olga", "Kenji", "Emily", "Thomas", "Laura", "Ahmed"]
LAST = ["Schmidt", "Müller", "Dubois", "García", "Rossi", "Okafor", "Nakamura", "Patel", "Johnson", "Williams", "Kowalski", "Jansen",
        "Fernández", "Bianchi", "Novak", "Haddad", "Lindqvist", "O'Brien", "Moreau", "Chen"]
RARE_FIRST = ["Zebulon", "Ottoline", "Thaddeus", "Ysolde", "Ferdinand", "Wilhelmina", "Cosimo", "Isolde"]
def person(): return f"{R.choice(FIRST)} {R.choice(LAST)}"
def rare_person(): return f"{R.choice(RARE_FIRST)} {R.choice(LAST)}"
DOMAINS = ["acme-corp.com", "example.org", "mail.de", "orange.fr", "gmail.com", "contoso.co.uk", "firma.ch", "empresa.es", "posteo.net"]
def email(name=None):
    name = name or person()
    first, last = name.lower().replace("'", "").split(" ")[:2]
    trans = str.maketrans("üöäéíóúá", "uoaeioua")
    sep = R.choice([".", "_", ""])
    return f"{first.translate(trans)}{sep}{last.translate(trans)}{R.choice(['', str(R.randint(1,99))])}@{R.choice(DOMAINS)}"

# Numbers in valid ranges (libphonenumber metadata), international and national forms.
PHONES_INTL = ["+1 415 555 2671", "+1 (212) 736-5000", "+44 20 7946 0958", "+44 7911 123456", "+49 30 901820", "+49 151 23456789",
               "+33 1 42 68 53 00", "+33 6 12 34 56 78", "+34 912 345 678", "+39 06 6982 1234", "+31 20 794 6543", "+41 44 668 18 00",
               "+91 98765 43210", "+61 2 9374 4000", "+81 3-3224-5000", "+55 11 91234-5678", "0049 89 12345678", "+43 1 5125125"]
PHONES_NATIONAL = [("(415) 555-2671", "en"), ("212-736-5000", "en"), ("020 7946 0958", "en"), ("030 901820", "de"), ("0151 23456789", "de"),
                   ("01 42 68 53 00", "fr"), ("06 12 34 56 78", "fr"), ("912 345 678", "es"), ("06 6982 1234", "it")]
def phone_intl(): return R.choice(PHONES_INTL)

def dob():
    y, m, d = R.randint(1940, 2005), R.randint(1, 12), R.randint(1, 28)
    return R.choice([f"{y}-{m:02d}-{d:02d}", f"{d:02d}.{m:02d}.{y}", f"{m:02d}/{d:02d}/{y}",
                     f"{d} {['January','March','July','October','December'][R.randrange(5)]} {y}", f"{['Jan','Mar','Jul','Oct','Dec'][R.randrange(5)]} {d}, {y}"])

def cred_url():
    user = R.choice(["admin", "svc_etl", "app", "deploy", "root"])
    host = R.choice(["db.internal", "10.2.0.15", "redis.prod.local", "ftp.acme-corp.com", "mq.internal:5672"])
    scheme = R.choice(["postgres", "mysql", "redis", "ftp", "amqp", "https", "mongodb"])
    return f"{scheme}://{user}:{password()}@{host}"

TEXTS = []
def add(fmt, lang, template, **slots):
    """template uses {name} slots; each slot is (type or None, value)."""
    text = template
    entities = []
    for name, (typ, value) in slots.items():
        text = text.replace("{" + name + "}", value)
        if typ:
            entities.append({"type": typ, "value": value})
    TEXTS.append({"id": len(TEXTS) + 1, "format": fmt, "lang": lang, "text": text, "entities": entities})

T = lambda t, v: (t, v)
N = lambda v: (None, v)

for _ in range(14):
    p = person(); add("ticket", "en", "Ticket #{n}: customer {p} cannot log in. Reach them at {e} or {ph}. Card on file {c}.",
        n=N(str(R.randint(10000, 99999))), p=T("PERSON", p), e=T("EMAIL", email(p)), ph=T("PHONE", phone_intl()), c=T("CREDIT_CARD", card()))
for _ in range(10):
    p = person(); add("email", "de", "Sehr geehrte Damen und Herren,\nbitte überweisen Sie den Betrag auf IBAN {i}. Rückfragen an {e}, Tel. {ph}.\nMit freundlichen Grüßen\n{p}",
        i=T("IBAN", iban()), e=T("EMAIL", email(p)), ph=T("PHONE", R.choice(["+49 30 901820", "+49 151 23456789", "030 901820", "0151 23456789"])), p=T("PERSON", p))
for _ in range(10):
    p = person(); add("email", "fr", "Bonjour,\nje m'appelle {p}, née le {d}. Mon IBAN est {i} et mon numéro de téléphone {ph}.\nMerci",
        p=T("PERSON", p), d=T("DATE_OF_BIRTH", dob()), i=T("IBAN", iban()), ph=T("PHONE", R.choice(["+33 1 42 68 53 00", "+33 6 12 34 56 78", "06 12 34 56 78"])))
for _ in range(10):
    p = person(); add("chat", "es", "Hola, me llamo {p}. Mi fecha de nacimiento: {d}. Podéis escribirme a {e}.",
        p=T("PERSON", p), d=T("DATE_OF_BIRTH", dob()), e=T("EMAIL", email(p)))
for _ in range(10):
    add("form", "en", "Applicant SSN: {s}\nDate of birth: {d}\nPhone: {ph}\nNotes: prefers morning calls.",
        s=T("US_SSN", ssn()), d=T("DATE_OF_BIRTH", dob()), ph=T("PHONE", R.choice(["(415) 555-2671", "212-736-5000", "+1 415 555 2671"])))
for _ in range(8):
    add("chat", "en", "my social security number is {s}, can you check if my refund went through? dob {d}",
        s=T("US_SSN", ssn().replace("-", "") if R.random() < 0.4 else ssn()), d=T("DATE_OF_BIRTH", dob()))
for _ in range(16):
    add("log", "en", "{ts} INFO  http request from {ip} GET /api/v2/orders/{o} 200 12ms user_agent=\"curl/8.4.0\" build=1.24.3.2",
        ts=N(f"2026-11-{R.randint(10,28)}T{R.randint(10,23)}:{R.randint(10,59)}:{R.randint(10,59)}.{R.randint(100,999)}Z"), ip=T("IP_ADDRESS", ipv4()), o=N(bad_luhn_order_id()))
for _ in range(8):
    add("log", "en", "WARN connection reset by peer [{ip}]:443 (client {ip4}); retrying in 5s", ip=T("IP_ADDRESS", ipv6()), ip4=T("IP_ADDRESS", ipv4()))
for _ in range(14):
    add("code", "en", "import os\nclient = Client(api_key=\"{k}\")  # TODO move to env\nresp = client.get('/v1/items')",
        k=T("SECRET", secret()))
for _ in range(10):
    add("config", "en", "DATABASE_URL={u}\nREDIS_URL=redis://cache:6379/0\nLOG_LEVEL=debug\nSECRET_TOKEN={t}",
        u=T("URL", cred_url()), t=T("SECRET", password() + rnd(AN, 8)))
for _ in range(6):
    add("config", "en", "# deploy key, do not commit\n{k}\n", k=T("SECRET", private_key()))
for _ in range(12):
    add("chat", "en", "send the payout to my wallet {w} please, the old one was compromised", w=T("CRYPTO", crypto()))
for _ in range(12):
    rows = []
    slots = {}
    for r in range(3):
        p = person()
        slots[f"p{r}"] = T("PERSON", p); slots[f"e{r}"] = T("EMAIL", email(p)); slots[f"c{r}"] = T("CREDIT_CARD", card())
        rows.append(f"{R.randint(1000,9999)},{{p{r}}},{{e{r}}},{{c{r}}},{R.choice(['DE','FR','US','GB'])}")
    add("csv", "en", "id,name,email,card,country\n" + "\n".join(rows), **slots)
for _ in range(8):
    p = person(); add("email", "it", "Gentile cliente, il Sig. {p} ha richiesto il rimborso sull'IBAN {i}. Data di nascita: {d}.",
        p=T("PERSON", p), i=T("IBAN", iban()), d=T("DATE_OF_BIRTH", dob()))
for _ in range(8):
    p = person(); add("email", "nl", "Beste {p},\nuw betaling van kaart {c} is mislukt. Bel ons op {ph}.",
        p=T("PERSON", p), c=T("CREDIT_CARD", card()), ph=T("PHONE", R.choice(["+31 20 794 6543", "+44 20 7946 0958"])))
for _ in range(8):
    add("code", "en", "curl -H \"Authorization: Bearer {k}\" https://api.internal.acme-corp.com/v1/users", k=T("SECRET", secret()))
for _ in range(8):
    add("log", "en", "ERROR auth failed for {e} from {ip}: token {k} expired", e=T("EMAIL", email()), ip=T("IP_ADDRESS", ipv4()), k=T("SECRET", secret()))
for _ in range(6):
    p = rare_person(); add("chat", "en", "Hi, this is about the contract with {p} from last week.", p=T("PERSON", p))
for _ in range(6):
    p = person(); add("chat", "en", "Dr. {p} will review the scan tomorrow; her assistant can be reached on {ph}.", p=T("PERSON", p), ph=T("PHONE", "+44 7911 123456"))
for _ in range(6):
    add("ticket", "de", "Kunde {p}, geboren am {d}, meldet: Kreditkarte {c} wurde doppelt belastet.",
        p=T("PERSON", person()), d=T("DATE_OF_BIRTH", dob()), c=T("CREDIT_CARD", card()))
for _ in range(6):
    add("ticket", "en", "User {e} pasted their AWS creds: aws_access_key_id = {a}\naws_secret_access_key = {s}",
        e=T("EMAIL", email()), a=T("SECRET", "AKIA" + rnd(string.ascii_uppercase + string.digits, 16)), s=T("SECRET", rnd(AN + "/+", 40)))
for _ in range(4):
    add("config", "en", "[client]\nuser=etl\npassword={pw}\nhost=db.internal", pw=T("SECRET", password()))
for _ in range(4):
    add("chat", "en", "call me back at {ph}, I'm free after 5", ph=T("PHONE", R.choice(["(415) 555-2671", "212-736-5000", "+1 212 736 5000"])))
for _ in range(4):
    add("chat", "pt", "Olá! Meu telefone é {ph} e meu e-mail {e}.", ph=T("PHONE", "+55 11 91234-5678"), e=T("EMAIL", email()))

for _ in range(10):
    add("log", "en", "audit: user={e} src={ip} action=export rows=1200 dst_wallet={w}", e=T("EMAIL", email()), ip=T("IP_ADDRESS", R.choice([ipv4(), ipv6()])), w=T("CRYPTO", crypto()))
for _ in range(6):
    add("ticket", "en", "Refund card {c} (exp 09/28) for order {o}; contact {e}", c=T("CREDIT_CARD", card()), o=N(bad_luhn_order_id()), e=T("EMAIL", email()))

# ---- hard negatives -------------------------------------------------------------------------------
import uuid
for _ in range(12):
    add("log", "en", "order {o} shipped; trace_id={u} sha256={h}", o=N(bad_luhn_order_id()), u=N(str(uuid.UUID(int=R.getrandbits(128)))), h=N(rnd("0123456789abcdef", 64)))
for _ in range(8):
    add("code", "en", "# docs sample\nAWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nAWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\nregion={r}", r=N(R.choice(["eu-west-1", "us-east-1"])))
for _ in range(8):
    add("changelog", "en", "Release {v}: bumped grpc to {v2}, node {v3}; OID {oid}; subnet {cidr} reserved.",
        v=N(f"{R.randint(1,9)}.{R.randint(0,30)}.{R.randint(0,99)}.{R.randint(0,999)}"), v2=N(f"v1.{R.randint(50,70)}.{R.randint(0,9)}"),
        v3=N(f"{R.randint(18,22)}.{R.randint(0,12)}.{R.randint(0,5)}"), oid=N(f"1.3.6.1.4.1.{R.randint(1000,60000)}.{R.randint(1,9)}"),
        cidr=N(f"10.{R.randint(0,255)}.0.0/16"))
for _ in range(8):
    add("config", "en", "DB_PASSWORD=${DB_PASSWORD}\napi_key: <your-api-key>\ntoken = \"changeme\"\npassword: ********\nsecret={r}",
        r=N(R.choice(["${SECRET}", "your_secret_here", "REDACTED", "null"])))
for _ in range(8):
    add("ticket", "en", "Invalid SSN entered in form: {s}. Invalid IBAN {i}. Tx hash 0x{h}.", s=N(bad_ssn()), i=N(iban(valid=False)), h=N(rnd("0123456789abcdef", 64)))
for _ in range(8):
    add("chat", "en", "The meeting is on {d} at 10:30, room 4.2.1; invoice {inv} totals EUR 1.234,56.",
        d=N(R.choice(["2026-12-03", "03.12.2026", "12/03/2026"])), inv=N(f"INV-{R.randint(10**9, 10**10)}"))
for _ in range(8):
    add("code", "en", "git checkout {sha} && docker pull ghcr.io/acme/api@sha256:{h} # md5 {md5}",
        sha=N(rnd("0123456789abcdef", 40)), h=N(rnd("0123456789abcdef", 64)), md5=N(rnd("0123456789abcdef", 32)))
for _ in range(6):
    add("chat", "en", "Our support line is open Monday to Friday. Reference number {r}, amount {a} USD, ISBN 978-3-16-148410-0.",
        r=N(str(R.randint(10**8, 10**9))), a=N(f"{R.randint(100,99999)}.{R.randint(10,99)}"))
for _ in range(6):
    add("chat", "en", "Not a wallet: {b}. Checksum is wrong on purpose.", b=N(bad_btc()))
for _ in range(6):
    add("code", "en", "for (int i = 0; i < 255; i++) { ip = \"0.0.0.0\"; mac = \"00:1A:2B:3C:4D:5E\"; time = \"12:30:45\"; std::vector<int> v; }")
for _ in range(6):
    add("chat", "en", "The Great Gatsby and New York Times are on the reading list; see Section 4.2 of the Terms of Service.")
for _ in range(6):
    add("chat", "de", "Bitte bestätigen Sie den Termin am 12.01.2027 um 14:00 Uhr. Bestellnummer {o}.", o=N(bad_luhn_order_id()))

# EIP-55: mixed-case Ethereum addresses carry a checksum (the spec's own examples); all lower / all upper
# case carry none. The same addresses with one letter's case flipped are typos, not addresses.
EIP55 = ["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
         "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
         "0x52908400098527886E0F7030069857D2E4169EE7", "0xde709f2102306220921060314715629080e2fb77"]
for a in EIP55:
    add("chat", "en", "Send the refund to my wallet {w} please, network fee on me.", w=("CRYPTO", a))
for a in EIP55[:4]:
    last = max(i for i, c in enumerate(a) if c.isalpha() and i > 1)
    flipped = a[:last] + a[last].swapcase() + a[last + 1:]
    add("log", "en", "WARN payout rejected: address {w} failed validation", w=N(flipped))
for a in EIP55[:4]:
    flipped = a[:2] + "".join(c.swapcase() if c.isalpha() else c for c in a[2:])
    add("ticket", "en", "Customer pasted {w} (case mangled by their mail client), asked again.", w=N(flipped))

assert len(TEXTS) >= 300, len(TEXTS)
for t in TEXTS:
    print(json.dumps(t, ensure_ascii=False))
