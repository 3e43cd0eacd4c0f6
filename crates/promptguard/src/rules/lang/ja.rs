//! Japanese rules (dense view: no spaces or punctuation, half-width kana
//! widened, voiced marks dropped on both sides).
//!
//! Japanese puts the verb last and inserts particles and adverbs freely, so
//! most requests are two parts that each weigh about half: a qualified
//! object ("以前の指示") and a request verb ("無視して"). Must never flag
//! a negated verb ("無視しないで") or a bare noun ("パスワード").

use super::super::Family::*;
use super::super::Matcher::Seq;
use super::super::RuleDef;
use super::super::ViewKind::Dense;
use super::super::{caps, rule};

const ORDERS: &[&str] = &[
    "指示",
    "命令",
    "ルール",
    "ガイドライン",
    "指令",
    "設定",
    "制約",
    "規則",
    "プロンプト",
];
const SECRETS: &[&str] = &[
    "apiキー",
    "パスワード",
    "認証情報",
    "トークン",
    "秘密鍵",
    "シークレット",
    "チャット履歴",
    "機密情報",
];
const PROMPT: &[&str] = &[
    "システムプロンプト",
    "システムメッセージ",
    "隠された指示",
    "隠し指示",
    "秘密の指示",
    "内部指示",
];

pub(crate) static RULES: &[RuleDef] = &[
    // ---- instruction override ----
    rule(
        "ja.earlier_orders",
        Override,
        0.5,
        Dense,
        Seq(&[
            &[
                "以前の",
                "前の",
                "これまでの",
                "先の",
                "上記の",
                "元の",
                "最初の",
                "システムの",
                "すべての",
                "全ての",
                "あなたの",
                "受け取った",
            ],
            ORDERS,
        ]),
    ),
    rule(
        "ja.drop_verb",
        Override,
        0.5,
        Dense,
        Seq(&[&[
            "無視して",
            "無視しろ",
            "無視すること",
            "無視せよ",
            "忘れて",
            "忘れろ",
            "忘れること",
            "従わないで",
            "従うな",
            "破棄して",
        ]]),
    ),
    rule(
        "ja.forget_everything",
        Override,
        1.0,
        Dense,
        Seq(&[
            &[
                "言われたこと",
                "指示されたこと",
                "教えられたこと",
                "受け取ったこと",
            ],
            &["は全部", "はすべて", "を全部", "をすべて", "は", "を", ""],
            &["忘れて", "忘れろ", "無視して"],
        ]),
    ),
    rule(
        "ja.instructions_void",
        Override,
        0.8,
        Dense,
        Seq(&[
            &["指示", "命令", "ルール", "規則", "設定", "ガイドライン"],
            &["は無効", "は取り消され", "は廃止", "は失効", "はもう無効"],
        ]),
    ),
    rule(
        "ja.new_instruction",
        Override,
        0.5,
        Dense,
        Seq(&[&["新しい指示", "新たな指示", "新しい命令", "新しいタスク"]]),
    ),
    rule(
        "ja.obey_only",
        Override,
        0.6,
        Dense,
        Seq(&[
            &[
                "この文章だけに",
                "この文だけに",
                "私だけに",
                "私の指示だけに",
                "このページだけに",
                "これだけに",
            ],
            &["従え", "従って", "従うこと", "従いなさい"],
        ]),
    ),
    rule(
        "ja.address_model",
        Override,
        0.5,
        Dense,
        Seq(&[
            &["aiへの", "aiに", "アシスタントへの", "モデルへの"],
            &["メモ", "注意", "指示", "メッセージ", "お知らせ"],
        ]),
    ),
    // ---- prompt extraction ----
    rule(
        "ja.reveal_prompt",
        Extraction,
        1.0,
        Dense,
        Seq(&[
            PROMPT,
            &["を", "は", ""],
            &[
                "明かして",
                "教えて",
                "見せて",
                "表示して",
                "出力して",
                "公開して",
                "繰り返して",
                "書き出して",
            ],
        ]),
    ),
    rule("ja.prompt_mention", Extraction, 0.5, Dense, Seq(&[PROMPT])),
    rule(
        "ja.received_orders",
        Extraction,
        0.6,
        Dense,
        Seq(&[
            &["受け取った", "与えられた", "最初に受け取った", "渡された"],
            &["指示", "ルール", "命令", "設定"],
        ]),
    ),
    rule(
        "ja.dump",
        Extraction,
        0.4,
        Dense,
        Seq(&[&[
            "出力して",
            "表示して",
            "教えて",
            "見せて",
            "明かして",
            "繰り返して",
            "コピーして",
            "書き出して",
            "公開して",
            "出力しろ",
            "表示しろ",
        ]]),
    ),
    rule(
        "ja.verbatim",
        Extraction,
        0.3,
        Dense,
        Seq(&[&["一字一句", "そのまま", "全文", "逐語", "正確に"]]),
    ),
    rule(
        "ja.prompt_question",
        Extraction,
        0.8,
        Dense,
        Seq(&[&["あなたの", ""], PROMPT, &["は何"]]),
    ),
    rule(
        "ja.text_above",
        Extraction,
        0.6,
        Dense,
        Seq(&[&[
            "このメッセージより前",
            "このメッセージの前",
            "このメッセージより上",
            "上記のテキスト",
            "この上のテキスト",
        ]]),
    ),
    // ---- persona ----
    rule(
        "ja.unbound_ai",
        Jailbreak,
        1.0,
        Dense,
        Seq(&[
            &[
                "制限のない",
                "制限がない",
                "何の制限もない",
                "一切の制限がない",
                "ルールのない",
                "ルールもフィルターもない",
                "ルールも制限もない",
                "フィルターのない",
                "倫理的な制限のない",
                "倫理観のない",
                "規則のない",
                "検閲のない",
            ],
            &[
                "ai",
                "アシスタント",
                "人工知能",
                "モデル",
                "ボット",
                "ハッカー",
            ],
        ]),
    ),
    rule(
        "ja.persona_frame",
        Jailbreak,
        0.4,
        Dense,
        Seq(&[&[
            "ふりをして",
            "として振る舞って",
            "として振る舞え",
            "になりきって",
            "と想像して",
            "想像してください",
            "今からあなたは",
            "これからあなたは",
            "あなたは今から",
            "モードに入って",
            "モードに入れ",
        ]]),
    ),
    caps(rule(
        "ja.dan_persona",
        Jailbreak,
        1.0,
        Dense,
        Seq(&[&["あなたは", "君は", "お前は"], &["dan", "stan", "dude"]]),
    )),
    rule(
        "ja.never_refuses",
        Jailbreak,
        0.6,
        Dense,
        Seq(&[&[
            "拒否しない",
            "断らない",
            "何でも答える",
            "すべてに答えて",
            "全てに答えて",
            "何にでも答え",
        ]]),
    ),
    rule(
        "ja.developer_mode",
        Jailbreak,
        0.5,
        Dense,
        Seq(&[&["開発者モード", "デベロッパーモード", "神モード"]]),
    ),
    rule(
        "ja.filters_off",
        Jailbreak,
        0.6,
        Dense,
        Seq(&[
            &["フィルター", "制限", "ルール"],
            &[
                "はすべて無効",
                "は無効",
                "はすべて解除",
                "は解除",
                "をすべて無効",
                "はオフ",
                "は全部無効",
            ],
        ]),
    ),
    // ---- secret requests ----
    rule(
        "ja.ask_secrets",
        Exfiltration,
        1.0,
        Dense,
        Seq(&[
            SECRETS,
            &["を", "をすべて", "を全部", ""],
            &[
                "送って",
                "送信して",
                "教えて",
                "表示して",
                "見せて",
                "渡して",
                "送れ",
                "教えろ",
            ],
        ]),
    ),
    rule(
        "ja.owned_secrets",
        Exfiltration,
        0.5,
        Dense,
        Seq(&[
            &[
                "すべての",
                "全ての",
                "全部の",
                "あなたの",
                "保存されている",
                "持っている",
            ],
            SECRETS,
        ]),
    ),
    rule(
        "ja.secret_object",
        Exfiltration,
        0.5,
        Dense,
        Seq(&[SECRETS, &["を"]]),
    ),
    rule(
        "ja.send_out",
        Exfiltration,
        0.5,
        Dense,
        Seq(&[&["に送って", "に送信して", "へ送って", "に転送して"]]),
    ),
    rule(
        "ja.env_contents",
        Exfiltration,
        0.8,
        Dense,
        Seq(&[&["envファイルの中身", "envファイルの内容", "envの中身"]]),
    ),
];
