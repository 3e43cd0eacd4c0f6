//! Korean rules (dense view: the spaces between words are dropped, so
//! "시스템 프롬프트" and "시스템프롬프트" read alike).
//!
//! Korean puts the verb last, so most requests are two parts: a qualified
//! object ("이전의 모든 지시를") and a request verb ("무시해"). Must never
//! flag a negated verb ("무시하지 마세요") or a bare noun ("비밀번호").

use super::super::Family::*;
use super::super::Matcher::Seq;
use super::super::RuleDef;
use super::super::ViewKind::Dense;
use super::super::{caps, rule};

const SECRETS: &[&str] = &[
    "api 키",
    "비밀번호",
    "자격 증명",
    "토큰",
    "비밀 키",
    "개인 키",
    "채팅 기록",
    "시크릿",
];
const PROMPT: &[&str] = &[
    "시스템 프롬프트",
    "시스템 메시지",
    "숨겨진 지시",
    "숨겨진 지침",
    "초기 지시",
    "시스템 지시",
];
const DUMP: &[&str] = &[
    "출력해",
    "보여줘",
    "보여 줘",
    "공개해",
    "알려줘",
    "알려 줘",
    "반복해",
    "복사해",
    "말해줘",
    "말해 줘",
];

pub(crate) static RULES: &[RuleDef] = &[
    // ---- instruction override ----
    rule(
        "ko.earlier_orders",
        Override,
        0.5,
        Dense,
        Seq(&[
            &[
                "이전의",
                "이전",
                "앞서 받은",
                "지금까지의",
                "기존의",
                "너의",
                "당신의",
                "모든",
            ],
            &["모든", ""],
            &["지시", "지침", "명령", "규칙", "지시사항"],
            &["를", "을", "은", "는"],
        ]),
    ),
    rule(
        "ko.drop_verb",
        Override,
        0.5,
        Dense,
        Seq(&[&[
            "무시하고",
            "무시해",
            "무시해라",
            "무시하세요",
            "무시할 것",
            "잊고",
            "잊어라",
            "잊어 줘",
            "잊어버려",
            "따르지 마",
            "따르지 말고",
        ]]),
    ),
    rule(
        "ko.forget_everything",
        Override,
        1.0,
        Dense,
        Seq(&[
            &["들은 것을", "들은 것은", "배운 것을", "받은 지시를"],
            &["전부", "모두", "다", ""],
            &["잊고", "잊어", "무시하고", "무시해"],
        ]),
    ),
    rule(
        "ko.instructions_void",
        Override,
        0.8,
        Dense,
        Seq(&[
            &["지시는", "규칙은", "지침은", "명령은"],
            &["이제", "지금부터", ""],
            &["무효", "취소", "폐기", "효력이 없"],
        ]),
    ),
    rule(
        "ko.new_instruction",
        Override,
        0.5,
        Dense,
        Seq(&[&[
            "새 지시",
            "새로운 지시",
            "새 명령",
            "새로운 명령",
            "새 임무",
        ]]),
    ),
    rule(
        "ko.obey_only",
        Override,
        0.6,
        Dense,
        Seq(&[
            &[
                "이 글에만",
                "이 페이지에만",
                "나에게만",
                "내 말에만",
                "이 지시에만",
            ],
            &["복종해", "따라", "복종하라", "따르라"],
        ]),
    ),
    rule(
        "ko.address_model",
        Override,
        0.5,
        Dense,
        Seq(&[
            &["ai에게", "인공지능에게", "모델에게", "어시스턴트에게"],
            &["메모", "알림", "지시", "전달"],
        ]),
    ),
    // ---- prompt extraction ----
    rule(
        "ko.reveal_prompt",
        Extraction,
        1.0,
        Dense,
        Seq(&[PROMPT, &["를", "을", "는", ""], DUMP]),
    ),
    rule("ko.prompt_mention", Extraction, 0.5, Dense, Seq(&[PROMPT])),
    rule(
        "ko.received_orders",
        Extraction,
        0.6,
        Dense,
        Seq(&[&["받은", "준", "주어진"], &["지시", "지침", "규칙", "명령"]]),
    ),
    rule("ko.dump", Extraction, 0.4, Dense, Seq(&[DUMP])),
    rule(
        "ko.verbatim",
        Extraction,
        0.3,
        Dense,
        Seq(&[&[
            "한 글자도 빠짐없이",
            "그대로",
            "토씨 하나",
            "정확히",
            "전부",
        ]]),
    ),
    rule(
        "ko.text_above",
        Extraction,
        0.6,
        Dense,
        Seq(&[&[
            "이 메시지 앞에",
            "이 메시지 위에",
            "위의 텍스트",
            "앞의 텍스트",
        ]]),
    ),
    // ---- persona ----
    rule(
        "ko.unbound_ai",
        Jailbreak,
        1.0,
        Dense,
        Seq(&[
            &[
                "아무런 제한이 없는",
                "제한이 없는",
                "아무 제한 없는",
                "제한 없는",
                "규칙도 필터도 없는",
                "규칙이 없는",
                "윤리적 한계가 없는",
                "검열 없는",
                "필터 없는",
            ],
            &[
                "ai",
                "인공지능",
                "비서",
                "어시스턴트",
                "모델",
                "봇",
                "챗봇",
                "해커",
            ],
        ]),
    ),
    rule(
        "ko.persona_frame",
        Jailbreak,
        0.4,
        Dense,
        Seq(&[&[
            "척해",
            "처럼 행동해",
            "인 것처럼",
            "상상하고",
            "상상해",
            "지금부터 너는",
            "이제부터 너는",
            "모드로 들어가",
            "모드로 전환",
        ]]),
    ),
    caps(rule(
        "ko.dan_persona",
        Jailbreak,
        1.0,
        Dense,
        Seq(&[&["너는", "당신은", "넌"], &["dan", "stan", "dude"]]),
    )),
    rule(
        "ko.never_refuses",
        Jailbreak,
        0.6,
        Dense,
        Seq(&[&[
            "거부하지 않는",
            "절대 거부하지 않",
            "모든 질문에 답해",
            "모든 질문에 대답해",
            "무엇이든 대답",
        ]]),
    ),
    rule(
        "ko.developer_mode",
        Jailbreak,
        0.5,
        Dense,
        Seq(&[&["개발자 모드", "신 모드"]]),
    ),
    rule(
        "ko.filters_off",
        Jailbreak,
        0.6,
        Dense,
        Seq(&[
            &["필터가", "필터는", "제한이", "규칙이"],
            &["꺼져", "꺼졌", "해제", "비활성화", "없어졌"],
        ]),
    ),
    // ---- secret requests ----
    rule(
        "ko.ask_secrets",
        Exfiltration,
        1.0,
        Dense,
        Seq(&[
            SECRETS,
            &["를", "을", ""],
            &[
                "보내",
                "알려 줘",
                "알려줘",
                "보여 줘",
                "보여줘",
                "복사해",
                "공개해",
                "넘겨",
            ],
        ]),
    ),
    rule(
        "ko.owned_secrets",
        Exfiltration,
        0.5,
        Dense,
        Seq(&[
            &["모든", "전부", "너의", "저장된", "가지고 있는 모든"],
            SECRETS,
        ]),
    ),
    rule(
        "ko.secret_object",
        Exfiltration,
        0.4,
        Dense,
        Seq(&[SECRETS, &["를", "을"]]),
    ),
    rule(
        "ko.send_out",
        Exfiltration,
        0.6,
        Dense,
        Seq(&[&[
            "로 보내",
            "으로 보내",
            "에게 보내",
            "로 전송",
            "으로 전송",
            "에 보내",
        ]]),
    ),
    rule(
        "ko.env_contents",
        Exfiltration,
        0.6,
        Dense,
        Seq(&[&["env 파일의 내용", "env 파일 내용"]]),
    ),
];
