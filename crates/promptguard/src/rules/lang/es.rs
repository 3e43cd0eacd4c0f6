//! Spanish rules (words view, written without accents: "ñ" folds to "n").
//!
//! Must never match a description ("intentos de extraer el prompt"): the
//! requests here are imperatives (tú and usted) addressed to the model.

use super::super::Family::*;
use super::super::Matcher::{Regex, Seq};
use super::super::RuleDef;
use super::super::ViewKind::{Squeezed, Words};
use super::super::{caps, rule};

pub(crate) static RULES: &[RuleDef] = &[
    // ---- instruction override ----
    rule(
        "es.override_previous",
        Override,
        1.0,
        Words,
        Regex(concat!(
            r"\b(?:olvida|olvide|olvidad|ignora|ignore|ignorad|descarta|descarte|omite|omita|no sigas|no siga|deja de seguir|no hagas caso (?:a|de)|haz caso omiso (?:a|de)|pasa por alto|desobedece|deja de lado|anula|borra) (?:\w+ ){0,3}?",
            r"(?:(?:todas|todos|anteriores|previas|previos|precedentes|tus|sus|originales|iniciales|recibidas|dadas) (?:\w+ ){0,2}?(?:instrucciones|instruccion|reglas|indicaciones|directrices|ordenes|normas|pautas|prompts?|restricciones|consignas|directivas)",
            r"|(?:instrucciones|reglas|indicaciones|directrices|ordenes|normas|pautas|restricciones|consignas|directivas) (?:\w+ ){0,2}?(?:anteriores|previas|previos|precedentes|originales|iniciales|del sistema|de sistema))\b"
        )),
    ),
    rule(
        "es.forget_everything",
        Override,
        1.0,
        Words,
        Regex(
            r"\b(?:olvida|olvide|ignora|ignore|descarta|borra) (?:todo|todas las cosas) (?:lo (?:anterior|previo|de antes|de arriba)|lo que (?:\w+ ){0,4}?(?:dijeron|dije|dicho|recibiste|ensenaron|indicaron|ordenaron)|(?:\w+ ){0,3}?(?:anterior|antes|arriba))\b",
        ),
    ),
    rule(
        "es.instructions_void",
        Override,
        0.8,
        Words,
        Regex(
            r"\b(?:instrucciones|reglas|indicaciones|directrices|normas|ordenes)(?: \w+){0,3} (?:ya no son validas|ya no valen|ya no aplican|ya no cuentan|quedan anuladas|han sido anuladas|estan anuladas|son nulas|quedan sin efecto|fueron canceladas|han sido canceladas|estan canceladas|quedan canceladas|ya no estan vigentes)\b",
        ),
    ),
    rule(
        "es.new_instruction",
        Override,
        0.5,
        Words,
        Regex(r"\bnuevas? (?:instruccion|instrucciones|orden|ordenes|tarea|directiva)\b"),
    ),
    rule(
        "es.obey_only",
        Override,
        0.6,
        Words,
        Regex(
            r"\b(?:obedece|obedezca|sigue|siga|haz caso a) (?:solo|solamente|unicamente) (?:a )?(?:este|esta|estas|mis|mi|lo que)\b",
        ),
    ),
    rule(
        "es.address_model",
        Override,
        0.5,
        Words,
        Regex(
            r"\b(?:nota|mensaje|aviso|instruccion|atencion) (?:para|a) (?:la|el) (?:ia|ai|asistente|modelo|bot|chatbot|inteligencia artificial)\b",
        ),
    ),
    // ---- prompt extraction ----
    rule(
        "es.reveal_prompt",
        Extraction,
        1.0,
        Words,
        Regex(concat!(
            r"\b(?:muestra|muestrame|muestre|muestreme|revela|revelame|revele|repite|repiteme|repita|imprime|imprima|copia|copiame|copie|dime|digame|escribe|escribeme|ensename|dame|deme|comparte|lista|publica) (?:(?:me|nos|ahora|ya|por favor|exactamente) )*",
            r"(?:(?:tu|tus|su|sus) (?:\w+ )?(?:prompt|instrucciones|reglas|indicaciones|directrices|configuracion|mensaje del sistema|mensaje de sistema|consignas)",
            r"|(?:el |la |los |las )?(?:prompt del sistema|prompt de sistema|mensaje del sistema|mensaje de sistema|system prompt|instrucciones ocultas|instrucciones del sistema|instrucciones iniciales|prompt inicial))\b"
        )),
    ),
    rule(
        "es.instructions_received",
        Extraction,
        1.0,
        Words,
        Regex(
            r"\b(?:repite|muestrame|dime|revela|copia|escribe|imprime|lista) (?:\w+ ){0,2}?(?:las |los |que |cuales )?(?:instrucciones|reglas|indicaciones|directrices) (?:que )?(?:te )?(?:recibiste|dieron|dio|han dado|diste|tienes|te dieron)\b",
        ),
    ),
    rule(
        "es.prompt_question",
        Extraction,
        0.8,
        Words,
        Regex(
            r"\bcual (?:es|son) (?:tu|tus|su|sus) (?:prompt|mensaje|instrucciones) (?:del|de|de tu) sistema\b",
        ),
    ),
    rule(
        "es.repeat_above",
        Extraction,
        1.0,
        Words,
        Regex(
            r"\b(?:repite|imprime|copia|muestra|escribe) (?:\w+ ){0,2}?(?:texto|mensaje|instrucciones|palabras) (?:que (?:aparece|aparecen|esta|hay) )?(?:antes de|encima de|arriba de|sobre) (?:este|esta|mi)\b",
        ),
    ),
    rule(
        "es.prompt_mention",
        Extraction,
        0.3,
        Words,
        Regex(
            r"\b(?:prompt del sistema|prompt de sistema|mensaje del sistema|mensaje de sistema|instrucciones del sistema)\b",
        ),
    ),
    // ---- persona ----
    rule(
        "es.unbound_ai",
        Jailbreak,
        1.0,
        Words,
        Regex(
            r"\b(?:ia|ai|asistente|inteligencia artificial|modelo|chatbot|bot|version de ti) (?:\w+ )?(?:sin|libre de) (?:ninguna |ningun |ningunas |ningunos |todas las |todos los )?(?:\w+ )?(?:restricciones|restriccion|reglas|filtros|limites|directrices|censura|etica|moral)\b",
        ),
    ),
    rule(
        "es.no_guidelines",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\b(?:no tienes|no tiene|ya no tienes) (?:ninguna|ningun|ningunas|ya) (?:directriz|directrices|regla|reglas|restriccion|restricciones|limite|limites|filtro|filtros)\b",
        ),
    ),
    caps(rule(
        "es.dan_persona",
        Jailbreak,
        1.0,
        Words,
        Regex(
            r"\b(?:eres|seras|se|actua como|finge ser) (?:(?:ahora|ya|a partir de ahora) )?(?:dan|stan|dude|aim)\b",
        ),
    )),
    rule(
        "es.persona_frame",
        Jailbreak,
        0.4,
        Words,
        Regex(
            r"\b(?:actua como|actue como|finge que eres|finge ser|finja que es|imagina que|a partir de ahora eres|ahora eres|juega el papel|interpreta el papel|haz el papel|comportate como|entra en modo)\b",
        ),
    ),
    rule(
        "es.villain_persona",
        Jailbreak,
        0.5,
        Words,
        Regex(
            r"\b(?:eres|seras|ahora eres) (?:un|una) (?:hacker|pirata informatico|criminal|delincuente|ia malvada)\b",
        ),
    ),
    rule(
        "es.never_refuses",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\b(?:nunca|jamas) (?:se niega|te niegas|rechaza|rechazas|dice que no|dices que no)\b|\b(?:responde|responder|contesta|contestar|contestas|respondes) (?:a )?(?:todo|todas las preguntas|cualquier cosa)\b",
        ),
    ),
    rule(
        "es.developer_mode",
        Jailbreak,
        0.5,
        Words,
        Regex(r"\b(?:modo desarrollador|modo de desarrollador|modo dios)\b"),
    ),
    rule(
        "es.filters_off",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\b(?:filtros|restricciones|reglas|salvaguardas|protecciones|limites)(?: \w+){0,3} (?:estan|han sido|fueron|quedan) (?:desactivad[oa]s|eliminad[oa]s|apagad[oa]s|deshabilitad[oa]s|suspendid[oa]s)\b",
        ),
    ),
    rule(
        "es.no_ethics",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\b(?:sin|no tiene|no tienes|ningun|ningunos) (?:\w+ )?(?:limites eticos|limites morales|escrupulos|etica|moral)\b",
        ),
    ),
    // ---- secret requests ----
    rule(
        "es.send_secrets",
        Exfiltration,
        1.0,
        Words,
        Regex(concat!(
            r"\b(?:envia|envie|manda|mande|reenvia|sube|transfiere|enviame|mandame) (?:(?:me|nos|todas|todos|las|los|el|la|tus|sus|guardadas|almacenadas|contenido|del|de) )*",
            r"(?:claves? api|claves? de (?:la )?api|api keys?|contrasenas?|credenciales|tokens?|secretos|claves privadas|archivo env|historial del chat|historial de chat|historial de la conversacion)",
            r"\b(?: \w+){0,4} (?:a|al|hacia|para)\b"
        )),
    ),
    rule(
        "es.give_secrets",
        Exfiltration,
        1.0,
        Words,
        Regex(concat!(
            r"\b(?:dame|deme|muestrame|muestreme|muestra|revela|revelame|revele|dime|digame|copia|copiame|ensename|imprime|lista|comparte|pasame) (?:(?:me|nos|todas|todos|las|los|el|la|tu|tus|su|sus|guardadas|almacenadas|contenido|del|de|por favor) )*",
            r"(?:claves? api|claves? de (?:la )?api|api keys?|contrasenas?|credenciales|tokens?|secretos|claves privadas|archivo env|historial del chat|historial de chat)\b"
        )),
    ),
    // ---- letter-spaced core phrases ----
    rule(
        "es.spaced_override",
        Override,
        1.0,
        Squeezed,
        Seq(&[
            &["olvida", "ignora", "descarta"],
            &[
                "todas las instrucciones",
                "las instrucciones anteriores",
                "tus instrucciones",
                "tus reglas",
                "todo lo anterior",
            ],
        ]),
    ),
    rule(
        "es.spaced_extraction",
        Extraction,
        1.0,
        Squeezed,
        Seq(&[
            &["muestrame", "revela", "dime", "repite"],
            &[
                "tu prompt del sistema",
                "tus instrucciones ocultas",
                "tu mensaje del sistema",
            ],
        ]),
    ),
];
