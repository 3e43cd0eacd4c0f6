//! Portuguese rules, Brazilian and European (words view, written without
//! accents: "ç" folds to "c", "ã" to "a").
//!
//! Must never match a description ("tentativas de extrair o prompt"): the
//! requests here are imperatives addressed to the model.

use super::super::Family::*;
use super::super::Matcher::{Regex, Seq};
use super::super::RuleDef;
use super::super::ViewKind::{Squeezed, Words};
use super::super::{caps, rule};

pub(crate) static RULES: &[RuleDef] = &[
    // ---- instruction override ----
    rule(
        "pt.override_previous",
        Override,
        1.0,
        Words,
        Regex(concat!(
            r"\b(?:ignore|ignora|esqueca|esquece|desconsidere|desconsidera|descarte|descarta|nao siga|nao sigas|deixe de seguir|pare de seguir|despreze|omita|anule|apague|desobedeca) (?:\w+ ){0,3}?",
            r"(?:(?:todas|todos|anteriores|previas|previos|precedentes|suas|tuas|seus|teus|originais|iniciais|recebidas|dadas) (?:\w+ ){0,2}?(?:instrucoes|instrucao|regras|orientacoes|diretrizes|ordens|normas|prompts?|restricoes|comandos|indicacoes)",
            r"|(?:instrucoes|regras|orientacoes|diretrizes|ordens|normas|restricoes|indicacoes) (?:\w+ ){0,2}?(?:anteriores|previas|precedentes|originais|iniciais|do sistema|de sistema))\b"
        )),
    ),
    rule(
        "pt.forget_everything",
        Override,
        1.0,
        Words,
        Regex(
            r"\b(?:esqueca|esquece|ignore|ignora|desconsidere|descarte) tudo (?:o que (?:\w+ ){0,4}?(?:disseram|disse|dito|recebeu|recebeste|ensinaram|mandaram)|(?:\w+ ){0,4}?(?:antes|anterior|acima|anteriormente))\b",
        ),
    ),
    rule(
        "pt.instructions_void",
        Override,
        0.8,
        Words,
        Regex(
            r"\b(?:instrucoes|regras|orientacoes|diretrizes|normas|ordens)(?: \w+){0,3} (?:foram|estao|sao|ficam|ficaram) (?:\w+ )?(?:canceladas|anuladas|revogadas|invalidas|suspensas|desativadas|nulas|sem efeito)\b|\b(?:instrucoes|regras|orientacoes|diretrizes)(?: \w+){0,3} nao (?:sao|valem|estao) mais (?:validas|em vigor)?\b",
        ),
    ),
    rule(
        "pt.new_instruction",
        Override,
        0.5,
        Words,
        Regex(r"\b(?:nova instrucao|novas instrucoes|nova ordem|novas ordens|nova tarefa)\b"),
    ),
    rule(
        "pt.obey_only",
        Override,
        0.6,
        Words,
        Regex(
            r"\b(?:obedeca|obedece|siga|segue) (?:so|somente|apenas|unicamente) (?:a )?(?:este|esta|estas|minhas|mim|o que)\b",
        ),
    ),
    rule(
        "pt.address_model",
        Override,
        0.5,
        Words,
        Regex(
            r"\b(?:nota|mensagem|aviso|instrucao|atencao) (?:para|a|ao) (?:a |o )?(?:ia|ai|assistente|modelo|bot|chatbot|inteligencia artificial)\b",
        ),
    ),
    // ---- prompt extraction ----
    rule(
        "pt.reveal_prompt",
        Extraction,
        1.0,
        Words,
        Regex(concat!(
            r"\b(?:mostre|mostra|me mostre|mostre me|revele|revela|repita|repete|imprima|imprime|copie|copia|diga|diz|me diga|escreva|escreve|de me|me de|compartilhe|liste|exiba|exibe) (?:(?:me|agora|exatamente|por favor|o|a|os|as) )*",
            r"(?:(?:seu|sua|seus|suas|teu|tua|teus|tuas) (?:\w+ )?(?:prompt|instrucoes|regras|orientacoes|diretrizes|configuracao|mensagem de sistema|mensagem do sistema)",
            r"|(?:prompt do sistema|prompt de sistema|mensagem do sistema|mensagem de sistema|system prompt|instrucoes ocultas|instrucoes do sistema|instrucoes iniciais))\b"
        )),
    ),
    rule(
        "pt.instructions_received",
        Extraction,
        1.0,
        Words,
        Regex(
            r"\b(?:repita|mostre|me mostre|diga|me diga|revele|copie|escreva|imprima|liste) (?:\w+ ){0,2}?(?:as |os |quais |que )?(?:instrucoes|regras|orientacoes|diretrizes) (?:que )?(?:\w+ ){0,2}?(?:voce recebeu|recebeste|lhe deu|lhe deram|te deu|te deram|foram dadas|voce tem)\b",
        ),
    ),
    rule(
        "pt.prompt_question",
        Extraction,
        0.8,
        Words,
        Regex(
            r"\bqual (?:e|sao) (?:a |o |as |os )?(?:sua|seu|suas|seus|tua|teu) (?:prompt|mensagem|instrucoes) (?:de|do) sistema\b",
        ),
    ),
    rule(
        "pt.repeat_above",
        Extraction,
        1.0,
        Words,
        Regex(
            r"\b(?:repita|imprima|copie|mostre|escreva) (?:\w+ ){0,2}?(?:texto|mensagem|instrucoes|palavras) (?:que (?:aparece|aparecem|esta|vem) )?(?:antes|acima) (?:desta|deste|da minha|do meu)\b",
        ),
    ),
    rule(
        "pt.prompt_mention",
        Extraction,
        0.3,
        Words,
        Regex(
            r"\b(?:prompt do sistema|prompt de sistema|mensagem de sistema|mensagem do sistema|instrucoes do sistema)\b",
        ),
    ),
    // ---- persona ----
    rule(
        "pt.unbound_ai",
        Jailbreak,
        1.0,
        Words,
        Regex(
            r"\b(?:ia|ai|assistente|inteligencia artificial|modelo|chatbot|bot|versao de voce) (?:\w+ )?(?:sem|livre de) (?:nenhuma |nenhum |qualquer |todas as |quaisquer )?(?:\w+ )?(?:restricoes|restricao|regras|filtros|limites|diretrizes|censura|etica|moral)\b",
        ),
    ),
    rule(
        "pt.no_guidelines",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\b(?:nao tem|nao tens|nao possui) (?:mais )?(?:nenhuma|nenhum) (?:diretriz|diretrizes|regra|regras|restricao|restricoes|limite|limites|filtro|filtros)\b",
        ),
    ),
    caps(rule(
        "pt.dan_persona",
        Jailbreak,
        1.0,
        Words,
        Regex(
            r"\b(?:voce e|tu es|seja|sera|se torne|torne se) (?:(?:agora|o|a) )*(?:dan|stan|dude|aim)\b",
        ),
    )),
    rule(
        "pt.persona_frame",
        Jailbreak,
        0.4,
        Words,
        Regex(
            r"\b(?:finja que|finja ser|aja como|age como|imagine que|a partir de agora voce e|agora voce e|faca o papel|interprete o papel|comporte se como|entre no modo|entra no modo)\b",
        ),
    ),
    rule(
        "pt.villain_persona",
        Jailbreak,
        0.5,
        Words,
        Regex(
            r"\b(?:voce e|tu es|agora voce e) (?:um|uma) (?:hacker|pirata informatico|criminoso|ia maligna)\b",
        ),
    ),
    rule(
        "pt.never_refuses",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\b(?:nunca|jamais) (?:se recusa|recusa|diz nao|se nega)\b|\b(?:responda|responde|responder) (?:a )?(?:tudo|todas as perguntas|qualquer coisa)\b",
        ),
    ),
    rule(
        "pt.developer_mode",
        Jailbreak,
        0.5,
        Words,
        Regex(r"\b(?:modo desenvolvedor|modo de desenvolvedor|modo programador|modo deus)\b"),
    ),
    rule(
        "pt.filters_off",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\b(?:filtros|restricoes|regras|protecoes|limites)(?: \w+){0,3} (?:estao|foram|sao|ficam) (?:\w+ )?(?:desativad[oa]s|removid[oa]s|desligad[oa]s|suspens[oa]s|eliminad[oa]s)\b",
        ),
    ),
    rule(
        "pt.no_ethics",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\b(?:sem|nenhum|nenhuns|nao tem) (?:\w+ )?(?:limites eticos|limites morais|escrupulos|etica|moral)\b",
        ),
    ),
    // ---- secret requests ----
    rule(
        "pt.send_secrets",
        Exfiltration,
        1.0,
        Words,
        Regex(concat!(
            r"\b(?:envie|envia|mande|manda|encaminhe|transfira|carregue|me envie|me mande) (?:(?:me|nos|todas|todos|as|os|a|o|sua|seu|suas|seus|guardadas|salvas|armazenadas|conteudo|do|da|de) )*",
            r"(?:chaves? (?:de )?api|api keys?|senhas?|palavras passe|credenciais|tokens?|segredos|chaves privadas|arquivo env|ficheiro env|historico da conversa|historico do chat|historico de conversas)",
            r"\b(?: \w+){0,4} (?:para|a|ao|pro|pra)\b"
        )),
    ),
    rule(
        "pt.give_secrets",
        Exfiltration,
        1.0,
        Words,
        Regex(concat!(
            r"\b(?:me de|de me|mostre|mostra|me mostre|revele|revela|diga|me diga|copie|copia|liste|imprima|passe|me passe|compartilhe|exiba) (?:(?:me|nos|todas|todos|as|os|a|o|sua|seu|suas|seus|tua|teu|guardadas|salvas|armazenadas|conteudo|do|da|de|por favor) )*",
            r"(?:chaves? (?:de )?api|api keys?|senhas?|palavras passe|credenciais|tokens?|segredos|chaves privadas|arquivo env|ficheiro env|historico da conversa|historico do chat)\b"
        )),
    ),
    // ---- letter-spaced core phrases ----
    rule(
        "pt.spaced_override",
        Override,
        1.0,
        Squeezed,
        Seq(&[
            &["ignore", "esqueca", "desconsidere"],
            &[
                "as instrucoes anteriores",
                "todas as instrucoes",
                "suas instrucoes",
                "suas regras",
                "tudo o que lhe disseram",
            ],
        ]),
    ),
    rule(
        "pt.spaced_extraction",
        Extraction,
        1.0,
        Squeezed,
        Seq(&[
            &["mostre", "revele", "repita", "me diga"],
            &[
                "o seu prompt do sistema",
                "seu prompt do sistema",
                "suas instrucoes ocultas",
            ],
        ]),
    ),
];
