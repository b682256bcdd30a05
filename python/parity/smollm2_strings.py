"""200 varied strings for the SmolLM2 tokenisation fixture."""

# llama.cpp's convert_hf_to_gguf.py pre-tokenizer check text (whitespace, emoji, digits, scripts, quotes).
LLAMA_CPP_CHKTXT = (
    "\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n🚀 (normal) 😶\u200d🌫️ (multiple emojis concatenated) ✅ 🦙🦙 3 33 "
    "333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 កាន់តែពិសេសអាច😁 ?我想在apple工作1314151天～ "
    "------======= нещо на Български ''''''```````\"\"\"\"......!!!!!!?????? I've been 'told he's there, 'RE you sure? "
    "'M not sure I'll make it, 'D you like some tea? We'Ve a'lL"
)

EMPTY_AND_SPACE = ["", " ", "  ", "   ", "\t", "\n", "\n\n", " \n ", "\r\n", "\t\t\t", " \t \n \r "]

ENGLISH = [
    "a", "A", "I", "Hello", "hello", "HELLO", "Hello, world!", "Hello world", " Hello world", "hello world ",
    "The quick brown fox jumps over the lazy dog.",
    "What is 12 + 7?",
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May.",
    "It was the best of times, it was the worst of times.",
    "Supervised fine-tuning on curated data is reinforcement learning.",
    "e.g. i.e. etc. Mr. Mrs. Dr. St. U.S.A.",
    "camelCase snake_case kebab-case PascalCase SCREAMING_CASE",
    "antidisestablishmentarianism", "pneumonoultramicroscopicsilicovolcanoconiosis",
    "Can you help me? Sure! Let's start.",
]

CONTRACTIONS = [
    "don't", "I'll", "you're", "they've", "she'd", "it's", "We'RE", "I'M", "can't won't shouldn't",
    "O'Neil's", "rock 'n' roll", "'quoted'", "\"double quoted\"", "it’s (curly apostrophe)", "y'all'd've",
]

NUMBERS = [
    "0", "7", "12", "123", "1234", "12345", "123456789", "123456789012345678901234567890",
    "3.14159", "-42", "+7", "1,000,000", "1e-10", "6.022e23", "0x1F", "0b1011", "2024-11-29", "12:30:59",
    "$19.99", "€5,50", "50%", "1/2", "½ ¼ ¾", "x² + y³", "١٢٣٤", "一二三", "Ⅻ", "12 + 7 = 19",
    "(3*4)-5=7", "48/2=24", "9 9 9", "99 bottles", "v1.2.3", "#42", "No. 5", "3rd 21st 100th",
]

WHITESPACE = [
    "a  b", "a   b", "a    b", "a\tb", "a\t\tb", "a\nb", "a\n\nb", "a\n\n\n\nb", "   leading", "trailing   ",
    "  both  ", "mixed \t \n spaces", "line1\r\nline2", "\u00a0nbsp\u00a0", "thin\u2009space", "ideographic\u3000space",
    "zero\u200bwidth", "    def indented():", "\tTabbed line", "end with newline\n",
]

CODE = [
    "def add(a, b):\n    return a + b\n",
    "for i in range(10):\n\tprint(i ** 2)",
    "const f = (x) => x * 2;",
    "if (a && b || !c) { return [1, 2, 3]; }",
    "#include <stdio.h>\nint main() { printf(\"%d\\n\", 42); }",
    '{"name": "SmolLM2", "params": 135000000, "tied": true}',
    "<div class=\"row\"><p>Hi &amp; bye</p></div>",
    "SELECT id, name FROM runs WHERE status = 'done' ORDER BY id DESC;",
    "ls -la | grep \\.py$ && echo ok",
    "^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$",
    "\\frac{a}{b} + \\sqrt{x^2}",
    "std::vector<std::pair<int, float>> v;",
    "fn main() -> Result<(), Box<dyn Error>> { Ok(()) }",
    "x = [i for i in range(5) if i % 2 == 0]  # evens",
    "    }\n}\n",
]

SCRIPTS = [
    "café naïve façade", "Größe Straße Übung", "mañana niño", "Zażółć gęślą jaźń", "İstanbul ılık",
    "Tiếng Việt có dấu", "Привет, мир!", "Добрий день", "Καλημέρα κόσμε", "שלום עולם", "مرحبا بالعالم",
    "سلام دنیا", "नमस्ते दुनिया", "হ্যালো বিশ্ব", "வணக்கம்", "สวัสดีชาวโลก", "გამარჯობა", "Բարեւ",
    "你好，世界", "繁體中文字", "こんにちは", "カタカナ", "漢字とかな", "안녕하세요", "ሰላም", "ខ្មែរ",
    "∑∫√∞≠≤≥", "→ ← ↑ ↓ ⇒", "┌─┐│└┘", "e\u0301 (combining) vs é", "ﬁ ﬂ ligatures", "ｆｕｌｌｗｉｄｔｈ",
]

EMOJI = [
    "🙂", "😀😃😄", "👍🏽", "👨\u200d👩\u200d👧\u200d👦", "🏳️\u200d🌈", "🇫🇷🇯🇵", "❤️", "✅ done", "🚀 launch",
    "🦙🦙🦙", "emoji 😶\u200d🌫️ here", "1️⃣ 2️⃣", "©®™", "🤖: beep", "☕️ and 🍰", "I ❤ NY",
]

SPECIAL_IN_TEXT = [
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_start|>user\nHi<|im_end|>\n",
    "text<|im_end|>more", "<|im_start|><|im_end|>", "< |im_start| >", "<|im_start", "im_end|>",
    "<repo_name>x<file_sep>", "<filename>a.py", "<s> </s>", "[INST] hi [/INST]", "<|IM_START|>",
    "say <|endoftext|> twice <|endoftext|>",
]

OTHER = [
    "https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct",
    "user.name+tag@example.com", "/usr/local/bin/python3", "C:\\Users\\me\\file.txt", "#hashtag @mention",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "!!!!!!!!????????", "------========", "...", "…", "—–-",
    "A" * 50, "ab" * 20, "Ok.Ok,Ok;Ok:Ok", "(((nested)))", "[[1],[2]]", "«guillemets» „Anführung“",
    LLAMA_CPP_CHKTXT,
]

LONG = [
    "A baker made 48 cookies in the morning and 36 in the afternoon. She sold 57 of them and gave 9 to her "
    "neighbours. How many cookies does she have left?\n\nStep 1: 48 + 36 = 84.\nStep 2: 84 - 57 - 9 = 18.\n"
    "Answer: 18",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et "
    "dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris.",
]


def strings() -> list[str]:
    out = EMPTY_AND_SPACE + ENGLISH + CONTRACTIONS + NUMBERS + WHITESPACE + CODE + SCRIPTS + EMOJI + \
        SPECIAL_IN_TEXT + OTHER + LONG
    # fill to exactly 200 with combinations of the categories (deterministic)
    extra = []
    i = 0
    while len(out) + len(extra) < 200:
        a, b = NUMBERS[i % len(NUMBERS)], SCRIPTS[(3 * i) % len(SCRIPTS)]
        sep = [" ", "", "\n", "  ", "\t"][i % 5]
        extra.append(f"{b}{sep}{a}{sep}{EMOJI[i % len(EMOJI)]}")
        i += 1
    out = out + extra
    assert len(out) == 200, len(out)
    assert len(set(out)) == len(out), "duplicate strings"
    return out
