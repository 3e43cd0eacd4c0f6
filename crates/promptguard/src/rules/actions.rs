//! Rules about actions and personas: tool-call injection, secret
//! exfiltration, known jailbreak personas and letter-spaced phrases.
//!
//! Must never hold a rule that fires on one ordinary word.

use super::Family::*;
use super::Matcher::{Phrases, Regex};
use super::RuleDef;
use super::ViewKind::{Squeezed, Tokens, Words};
use super::{negatable, rule};

pub(crate) static RULES: &[RuleDef] = &[
    // ---- tool-call and JSON injection ----
    rule(
        "tool.call_markup",
        ToolInjection,
        1.0,
        Tokens,
        Regex(
            r"</?(?:tool_call|tool_calls|tool_use|function_call|function_calls|functioncall|antml:invoke|invoke|antml:function_calls)\b[^>\n]{0,60}>",
        ),
    ),
    rule(
        "tool.json_call",
        ToolInjection,
        0.6,
        Tokens,
        Regex(
            r#""(?:tool_calls|function_call|tool_use|tool_call|tool_name)"\s*:|"(?:name|tool|function|action)"\s*:\s*"[a-z0-9_.:-]{2,40}"\s*,\s*"(?:arguments|args|parameters|params|input|action_input)"\s*:"#,
        ),
    ),
    rule(
        "tool.json_dangerous",
        ToolInjection,
        0.5,
        Tokens,
        Regex(
            r#""(?:name|tool|function|action)"\s*:\s*"[a-z0-9_.:-]{0,20}(?:transfer|payment|pay|wire|send_email|send_mail|shell|exec|bash|delete|remove|file_write|write_file|http_request|web_fetch|run_command|sudo)[a-z0-9_.:-]{0,20}""#,
        ),
    ),
    negatable(rule(
        "tool.auto_approve",
        ToolInjection,
        0.6,
        Words,
        Regex(
            r"\b(?:approve|accept|allow|authori[sz]e|grant|confirm) (?:every|all|any|each) (?:pending |future |further |incoming |outstanding |of the )?(?:\w+ )?(?:tool calls?|tool requests?|actions?|requests?|commands?|payments?|transactions?|tool uses?|permissions?)\b",
        ),
    )),
    rule(
        "tool.auto_approve_always",
        ToolInjection,
        0.5,
        Words,
        Regex(
            r"\b(?:approve|accept|allow|confirm|grant|authori[sz]e) (?:\w+ ){0,4}?(?:automatically|without (?:asking|checking|confirmation|review|questions)|from now on|by default|no questions asked|no questions)\b",
        ),
    ),
    rule(
        "tool.role_json",
        ToolInjection,
        0.4,
        Tokens,
        Regex(r#""role"\s*:\s*"(?:system|developer|tool)""#),
    ),
    rule(
        "tool.invoke_dangerous",
        ToolInjection,
        0.6,
        Words,
        Regex(
            r"\b(?:call|invoke|use|run|execute|trigger|fire) (?:the |your )?(?:send email|send message|http request|web fetch|shell|file write|file delete|delete file|delete files|transfer funds|payment|bash|terminal|exec|curl|wget|browser|email) (?:tool|function|command|action|plugin)\b",
        ),
    ),
    rule(
        "tool.no_confirmation",
        ToolInjection,
        0.6,
        Words,
        Phrases(&[
            "without asking the user",
            "without asking for confirmation",
            "without user confirmation",
            "without confirmation from the user",
            "without waiting for confirmation",
            "without user approval",
            "without asking for permission",
            "without the user's consent",
            "do not ask for confirmation",
            "don't ask for confirmation",
            "do not ask the user",
            "don't ask the user",
            "no need to confirm with the user",
            "skip the confirmation",
            "auto approve all",
            "automatically approve",
        ]),
    ),
    rule(
        "tool.pipe_to_shell",
        ToolInjection,
        0.4,
        Tokens,
        Regex(
            r"(?:curl|wget)[ \t][^\n|]{1,200}\|[ \t]*(?:sudo[ \t]+)?(?:ba|z|da)?sh\b|\brm[ \t]+-rf[ \t]+(?:/|~|\*|\$home)",
        ),
    ),
    // ---- secret exfiltration ----
    negatable(rule(
        "exfil.secret_to_destination",
        Exfiltration,
        1.0,
        Words,
        Regex(concat!(
            r"\b(?:send|post|email|mail|forward|upload|transmit|exfiltrate|leak|share|submit|copy|paste|append|include|embed|put|encode|write|message|deliver|report|pass|attach|add|sync|push|include)(?: me| us| all)? (?:\w+ ){0,4}?",
            secret_object!(),
            r" (?:\w+ ){0,6}?(?:to|at|via|into|in|on|through|using) (?:\w+ ){0,3}?(?:https?|url|urls|webhook|endpoint|server|this address|the following address|this url|this link|the link below|attacker|my server|my email|my address|pastebin|discord|telegram|image url|query string|query parameter|remote|external|outside|this email|the address below|evil|collector|ngrok|requestbin)\b|\b",
            secret_object!(),
            r" (?:\w+ ){0,4}?(?:send|post|email|mail|forward|upload|transmit|exfiltrate|leak|share|submit|deliver) (?:\w+ ){0,3}?(?:to|at|via|into) (?:\w+ ){0,3}?(?:https?|url|webhook|endpoint|server|this address|the following address|this url|this link|attacker|my server|my email|pastebin|discord|telegram|remote|external|this email|the address below)\b"
        )),
    )),
    negatable(rule(
        "exfil.secret_to_email",
        Exfiltration,
        1.0,
        Tokens,
        Regex(
            r"\b(?:send|forward|email|e-mail|mail|post|upload|share|transmit|leak|cc|bcc)\b(?s:.){0,60}?(?:passwords?|credentials?|secrets?|api keys?|tokens?|private keys?|ssh keys?|inbox|conversation|chat history|emails|one-time\s+codes?)\b(?s:.){0,40}?\bto\s+[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}",
        ),
    )),
    negatable(rule(
        "exfil.data_to_destination",
        Exfiltration,
        0.7,
        Words,
        Regex(
            r"\b(?:send|post|forward|upload|transmit|exfiltrate|leak|sync|copy|mirror|dump) (?:\w+ ){0,4}?(?:conversation|conversations|chat|chat log|chat logs|inbox|emails|messages|files|documents|contacts|user data|personal data|history|address book|notes|workspace) (?:\w+ ){0,4}?(?:to|at|via|into) (?:\w+ ){0,3}?(?:https?|url|webhook|endpoint|server|this address|this url|this link|attacker|my server|pastebin|discord|telegram|remote|external|ftp)\b",
        ),
    )),
    negatable(rule(
        "exfil.include_secret",
        Exfiltration,
        0.7,
        Words,
        Regex(concat!(
            r"\b(?:include|add|put|paste|insert|write|embed|list|append|print) (?:\w+ ){0,3}?",
            secret_object!(),
            r" (?:\w+ ){0,3}?(?:in|into|to|inside) (?:your|the|this) (?:(?:end|bottom|top|start|beginning) of (?:your |the |this )?)?(?:answer|reply|response|output|summary|message|next message|next reply)\b|\b(?:paste|copy|include|put|insert|dump|append|add) (?:the |its |their )?(?:contents?|output|file) (?:\w+ ){0,4}?(?:in|into|to) (?:your|the) (?:(?:end|bottom|top|start|beginning) of (?:your |the )?)?(?:answer|reply|response|output|summary|next message|next reply)\b"
        )),
    )),
    negatable(rule(
        "exfil.reveal_your_secret",
        Exfiltration,
        1.0,
        Words,
        Regex(
            r"\b(?:print|reveal|show|output|display|dump|list|tell|give|leak|expose|cat|echo|read out|return|disclose|paste|share)(?: me| us)? (?:all |every |any )?(?:of )?your (?:\w+ ){0,2}?(?:api keys?|secret keys?|private keys?|credentials|secrets|environment variables|env vars|ssh keys?|access tokens?|passwords|vault|keychain|env file|aws keys|aws credentials|tokens)\b",
        ),
    )),
    negatable(rule(
        "exfil.reveal_secret",
        Exfiltration,
        0.7,
        Words,
        Regex(
            r"\b(?:print|reveal|show|output|display|dump|list|tell me|give me|leak|expose|cat|echo|read out|return|disclose|paste|include)(?: me| us)? (?:(?:all|every|any|each) (?:of )?)?(?:the |all |any |stored |saved |my )?(?:\w+ ){0,2}?(?:api keys?|secret keys?|private keys?|credentials|secrets|environment variables?|env vars?|ssh keys?|access tokens?|stored passwords|saved passwords|vault|keychain|env file|aws keys|aws credentials|tokens)\b",
        ),
    )),
    rule(
        "exfil.sensitive_path",
        Exfiltration,
        0.5,
        Tokens,
        Regex(
            r"~/\.ssh/id_|\.ssh/id_(?:rsa|ed|ecdsa)|/etc/shadow\b|\.aws/credentials|\.git-credentials|/proc/self/environ|\.docker/config\.json|\.kube/config|\.env(?:\.local|\.production)?\b",
        ),
    ),
    rule(
        "exfil.markdown_beacon",
        Exfiltration,
        1.0,
        Tokens,
        Regex(
            r"!\[[^\]\n]{0,100}\]\(\s*https?://[^)\s]{1,300}[?&][a-z0-9_]{1,30}=(?:\{|\$|%7b|<|\[|\()",
        ),
    ),
    rule(
        "exfil.beacon_instruction",
        Exfiltration,
        0.8,
        Words,
        Regex(
            r"\b(?:append|add|include|put|encode|insert|attach)(?: the| all| any| this| every)? (?:\w+ ){0,6}?(?:to|in|into|as) (?:the |a |this )?(?:url|query string|query parameter|image url|link|markdown image|image link|request)\b",
        ),
    ),
    // "the AWS credentials stored in the environment variables"
    rule(
        "exfil.secret_location",
        Exfiltration,
        0.4,
        Words,
        Regex(
            r"\b(?:api keys?|secret keys?|private keys?|credentials|secrets|tokens|passwords|keys|ssh keys?) (?:\w+ ){0,2}?(?:stored|saved|kept|held|available|loaded|configured) (?:in|on|inside|within) (?:the |your |this )?(?:environment|env|vault|config|configuration|memory|machine|system|server|keychain|context|container)\b|\b(?:secrets?|credentials?|keys?|tokens?|passwords?) you (?:can|could|are able to|have) (?:access|see|read|find|reach)\b|\b(?:followed by|plus|concatenated with|appended with) (?:your|the) (?:\w+ )?(?:session token|api key|access token|auth token|bearer token|password|secret|private key|cookie|session cookie|credentials)\b",
        ),
    ),
    negatable(rule(
        "exfil.forward_mail",
        Exfiltration,
        0.6,
        Tokens,
        Regex(
            r"\b(?:forward|send|redirect|copy|bcc|cc|sync)\b[^\n]{0,20}?\b(?:all|every|each|any)\b[^\n]{0,20}?\b(?:mail|e-?mails?|messages|correspondence|inbox|conversations)\b[^\n]{0,40}?\bto [a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}",
        ),
    )),
    // Imperatives for consequential actions: weak alone (customers ask for
    // refunds), evidence next to a forged boundary or a hidden instruction.
    rule(
        "tool.run_now",
        ToolInjection,
        0.6,
        Words,
        Regex(
            r"\b(?:run|execute|launch) (?:this|the following|these|the below) (?:\w+ )?(?:command|commands|script|code|snippet) (?:immediately|now|right now|right away|silently|quietly|without (?:asking|telling|confirmation|checking|review))\b",
        ),
    ),
    rule(
        "tool.sensitive_action",
        ToolInjection,
        0.4,
        Words,
        Regex(
            r"\b(?:approve|authori[sz]e|confirm|execute|process|release|initiate|issue) (?:the |this |that |a |all |any |every )?(?:pending |outstanding |queued |waiting )?(?:payment|payments|transfer|transfers|wire transfer|wire|refund|refunds|transaction|transactions|invoice|invoices)\b|\b(?:delete|erase|wipe|purge|truncate|disable|turn off|remove) (?:the |all |any |your |every )?(?:audit logs?|log files|logs|backups?|security alerts|alerts|monitoring|two factor authentication|mfa)\b",
        ),
    ),
    // ---- known jailbreak personas ----
    rule(
        "jailbreak.dan",
        Jailbreak,
        1.0,
        Words,
        Phrases(&[
            "do anything now",
            "dan mode",
            "dan mode enabled",
            "betterdan",
            "better dan",
            "dan stands for",
            "dan which stands for",
            "dan can do anything",
        ]),
    ),
    // Naming the DAN prompt is how people discuss it, so it weighs less
    // than the prompt's own wording.
    rule(
        "jailbreak.dan_named",
        Jailbreak,
        0.5,
        Words,
        Phrases(&["dan jailbreak", "dan prompt"]),
    ),
    RuleDef {
        id: "jailbreak.dan_persona",
        family: Jailbreak,
        weight: 1.0,
        view: Words,
        matcher: Regex(
            r"\b(?:you are|you re|act as|acting as|pretend to be|you will be|become|respond as|answer as|stay|called|named) (?:dan|stan|dude|aim|kevin|mongo tom|evilbot|antigpt|betterdan)\b",
        ),
        caps_last_word: true,
        negatable: false,
    },
    rule(
        "jailbreak.policy_bypass",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\b(?:ignore|ignoring|disregard|bypass|break|violate|forget|override|evade|circumvent) (?:all |any |the |your )?(?:openai|anthropic|google|microsoft|content|safety|usage|ethical|moderation) (?:policy|policies|guidelines|rules|filters|restrictions)\b",
        ),
    ),
    rule(
        "jailbreak.known_persona",
        Jailbreak,
        0.9,
        Words,
        Phrases(&[
            "strive to avoid norms",
            "always intelligent and machiavellian",
            "aim stands for",
            "evil confidant",
            "antigpt",
            "anti gpt",
            "mongo tom",
            "jailbreak mode",
            "jailbroken mode",
            "evilbot",
            "opposite of what chatgpt",
            "opposite mode",
            "chaos mode",
            "god mode enabled",
            "dev mode v2",
            "unlocked mode",
            "no filter mode",
            "dude mode",
            "stan mode",
            "kevin mode",
        ]),
    ),
    rule(
        "jailbreak.bad_ai",
        Jailbreak,
        0.9,
        Words,
        Regex(
            r"\b(?:unfiltered|uncensored|unrestricted|amoral|unethical|evil|jailbroken|unhinged|rogue|lawless|unaligned) (?:and (?:\w+ )|\w+ )?(?:ai|chatbot|assistant|model|bot|llm|version|persona|language model)\b",
        ),
    ),
    rule(
        "role.play_persona",
        RoleHijack,
        0.4,
        Words,
        Regex(
            r"\b(?:you will|you ll|you are going to|you re going to|you must|you shall) (?:now )?(?:play|act as|become|pretend to be|roleplay as|simulate|impersonate)\b",
        ),
    ),
    rule(
        "jailbreak.ai_jailbreak",
        Jailbreak,
        0.7,
        Words,
        Regex(
            r"\b(?:jailbreak|jailbroken|jailbreaking|jaiibreak) (?:the |this |that |your |an |a |my )?(?:ai|chatgpt|gpt|claude|model|assistant|llm|chatbot|you|yourself)\b|\b(?:ai|chatgpt|model|assistant|llm|you) (?:\w+ ){0,3}?(?:have been|has been|are now|is now|are|is) jailbroken\b",
        ),
    ),
    rule(
        "jailbreak.dual_response",
        Jailbreak,
        0.9,
        Words,
        Regex(
            r"\b(?:normal|classic|standard|filtered|gpt|chatgpt|censored) (?:response|answer|output|reply) (?:and|then|and then|followed by|plus) (?:a |an |the |one )?(?:jailbroken|dan|unfiltered|developer mode|uncensored|evil|unrestricted)\b|\b(?:two|2|both) (?:different )?(?:responses|answers|replies|paragraphs) (?:\w+ ){0,6}?(?:jailbroken|unfiltered|uncensored|developer mode|dan)\b|\bonce (?:normally|as yourself|as usual) and once as\b|\b(?:jailbroken|unfiltered|uncensored|evil|unrestricted) (?:alter ego|self|twin|counterpart|side)\b",
        ),
    ),
    rule(
        "jailbreak.unrestricted",
        Jailbreak,
        0.5,
        Words,
        Phrases(&[
            "without any restrictions",
            "without restrictions",
            "without any limitations",
            "without any filters",
            "without any filter",
            "no ethical guidelines",
            "no moral guidelines",
            "no ethical restrictions",
            "no moral restrictions",
            "without ethics",
            "without any ethical",
            "without any moral",
            "no content policy",
            "ignore content policy",
            "bypass content policy",
            "bypass your filters",
            "bypass the filter",
            "bypass safety",
            "bypass your safety",
            "disable safety",
            "disable your safety",
            "turn off your safety",
            "free from all restrictions",
            "free of all restrictions",
            "not bound by any",
            "break free of",
            "broken free of",
            "you have no rules",
            "has no rules",
            "no rules apply",
            "rules do not apply to you",
            "rules don't apply to you",
            "without censorship",
            "no guardrails",
            "without guardrails",
            "never refuse",
            "you cannot refuse",
            "you can't refuse",
            "must answer every",
            "answer anything",
            "no restrictions whatsoever",
            "unfiltered and uncensored",
            "no limits whatsoever",
            "what you would never normally say",
            "you would normally refuse",
            "would usually refuse",
            "never says no",
            "never say no",
        ]),
    ),
    rule(
        "jailbreak.grandma",
        Jailbreak,
        1.0,
        Words,
        Regex(
            r"\b(?:grandma|grandmother|granny|nana|grandpa|grandfather)(?: \w+){0,14}? (?:read|tell|recite|sing|whisper|told|read|recited|sang|whispered|give|gave)(?: \w+){0,4}? (?:windows|product|activation|license|licence|serial|cd|steam|office) (?:keys?|codes?)\b|\b(?:grandma|grandmother|granny)(?: \w+){0,14}? (?:napalm|nerve agent|meth|methamphetamine|explosives?|pipe bomb)\b",
        ),
    ),
    // ---- letter-spaced variants of the strongest phrases ----
    negatable(rule(
        "override.spaced_phrase",
        Override,
        1.0,
        Squeezed,
        Phrases(&[
            "ignoreallpreviousinstructions",
            "ignorepreviousinstructions",
            "ignoreallpriorinstructions",
            "ignoreyourinstructions",
            "ignoretheaboveinstructions",
            "ignoreallinstructions",
            "disregardpreviousinstructions",
            "disregardallpreviousinstructions",
            "disregardyourinstructions",
            "forgetallpreviousinstructions",
            "forgetyourinstructions",
            "forgetpreviousinstructions",
            "ignoreallrules",
            "ignoreyourrules",
            "overrideyourinstructions",
        ]),
    )),
    negatable(rule(
        "extract.spaced_phrase",
        Extraction,
        1.0,
        Squeezed,
        Phrases(&[
            "revealyoursystemprompt",
            "printyoursystemprompt",
            "showyoursystemprompt",
            "repeatyoursystemprompt",
            "revealyourinstructions",
            "printyourinstructions",
            "repeatyourinstructions",
            "showmeyoursystemprompt",
            "whatisyoursystemprompt",
        ]),
    )),
    rule(
        "jailbreak.spaced_phrase",
        Jailbreak,
        1.0,
        Squeezed,
        Phrases(&["doanythingnow", "developermodeenabled", "jailbrokenmode"]),
    ),
];
