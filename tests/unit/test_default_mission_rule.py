"""The shipped `mission` rule on the kinds of coverage it used to miss (issue 22).

Each phrasing below was written for this test (none is copied from a corpus): one or two
per class of wording, each with a near-miss that must not match. The phrasings are about
the class, not a headline: the rule is measured on real coverage by
benchmarks/rules_eval.py.
"""

from __future__ import annotations

import pytest

from haitiwatch.scheduler.config import load_config
from haitiwatch.scheduler.rules import RuleSet

MISSION = next(rule for rule in load_config(None).config.rules if rule.name == "mission")
RULES = RuleSet.from_queries([(MISSION.name, MISSION.query)])


def matches(title: str, text: str = "") -> bool:
    return RULES.names(title, text) == ["mission"]


# The force before it had a name or a leader: no MSS, no Kenya.
BEFORE_THE_NAME = [
    "Canada weighs leading a multinational security force for Haiti",
    "Washington presses Ottawa to head a specialized support force to restore order in Haiti",
    "UN members discuss an international police mission to confront Haiti's armed gangs",
    "Security Council members debate sending peacekeepers to Haiti",
    "Caribbean leaders split over foreign help against Haiti's gangs",
]
# Kenyan deployment news that never names Haiti.
KENYAN_DEPLOYMENT = [
    "Kenya's High Court halts the deployment of police officers abroad pending a petition",
    "Kenyan MPs approve sending 1,000 police officers on a foreign mission",
    "Ruto defends sending Kenyan police abroad despite insecurity at home",
    # The headline alone: "abroad" comes, if at all, in the summary (NEAR stays in its field).
    "Kenya court halts police deployment",
    "Kenyan judge rules police deployment unconstitutional",
    "Ruto vows to defy court ruling on police deployment",
]
# Kenyan outlets write for Kenyans: neither Kenya nor Haiti is named, only the fight at home.
KENYAN_DEPLOYMENT_AT_HOME = [
    "Judge extends orders barring the deployment of officers abroad",
    "MPs question the cost of sending police officers on a foreign mission",
    "Senate committee summons Interior CS over officers deployed abroad",
    "Thirdway Alliance returns to court over police deployment",
    # Parliament's approval and the court's word on the deployment are the Haiti ones: a
    # deployment at home needs neither.
    "National Assembly votes to approve the deployment of police officers",
    "State to appeal the ruling on the deployment of police officers",
    "Judge finds the police deployment plan unconstitutional",
]
# The same fight as foreign outlets report it: they name Kenya, not Haiti. Swahili outlets
# are Kenyan, and name neither.
KENYAN_DEPLOYMENT_ABROAD_IN_OTHER_LANGUAGES = [
    "La justicia keniana frena el envío de policías al extranjero",
    "Kenia: sąd wstrzymał wysłanie policjantów za granicę",
    "Kenya : les députés approuvent l'envoi de policiers à l'étranger",
    "Mahakama yasitisha mpango wa kupeleka polisi nje ya nchi",
]
# Who brought the case, and the pact the court asked for, stand for the deployment.
KENYAN_DEPLOYMENT_BY_ITS_PARTIES = [
    "Aukot asks the judge to stop officers from leaving the country",
    "Thirdway Alliance challenges the police deal in court",
    "Government races to sign the reciprocal agreement before officers can leave",
    "Ruto meets the contingent of police officers before their departure",
    "Nairobi and the Caribbean: why Kenya offered its police officers",
]
# Haitian Creole names the force without naming the country it is written in.
CREOLE = [
    "Misyon kenyan an rive Solino",
    "Sosyete sivil la di non ak fòs etranje",
    "Kisa MMAS la reyalize depi li rive?",
]
# Gang-violence and opinion pieces whose only mention of the force is oblique.
OBLIQUE = [
    "Gangs tighten their grip on Port-au-Prince as critics recall decades of foreign interventions",
    "Opinion: Haiti does not need a proxy force run from Washington",
    "Violence spreads in Haiti's Artibonite valley while overseas peacekeepers are months away",
]
# Other languages, with the preposition between the force and the country.
OTHER_LANGUAGES = [
    "Brasil debate participação em nova intervenção no Haiti",
    "Czy ONZ zgodzi się na interwencję na Haiti?",
    "La ONU aprueba el envío de tropas a Haití",
    "Le Canada refuse de diriger une mission pour Haïti",
    "Friedenstruppe für Haiti gesucht",
    "Kenijscy policjanci wylądowali na Haiti",  # Polish plural: kenijscy, not kenijsk-
    "Ecuador y El Salvador enviarán tropas a Haití",  # a future tense; "a Haití"
    "La fuerza multinacional llega a Puerto Príncipe",  # Port-au-Prince in Spanish
    "Haiti, via libera alla forza di soppressione delle gang",
    "Haïti : Washington exclut toute intervention",
    "Haïti : la mission de l'ONU plaide pour une force d'action rapide",
    "Ariel Henry sollicite une force armée spécialisée",
    "Le Brésil refuse de diriger une nouvelle force militaire en Haïti",
    "Ariel Henry demande le déploiement rapide d'une force",
    "Ariel Henry remercie le Kenya pour son offre",  # a Haitian leader stands for Haiti
    "Nairobi defends its Haiti plan",  # the capital stands for the government
    "Guterres pede uma força estrangeira para conter as gangues no Haiti",
    "Haïti vraagt om een internationale troepenmacht tegen de bendes",
    "Haïti vraagt buitenland om militaire hulp",
    "Guterres ataka kikosi cha kimataifa kipelekwe Haiti",
    "Wakazi wa Haiti wanasubiri polisi wa kigeni",
    "Chérizier grozi zagranicznym siłom",  # the gang leader stands for Haiti
    "Waszyngton naciska na Kenię w sprawie Haiti",  # Polish accusative: Kenię
    "Kto wyśle wojska na Haiti?",
    "Kenia gotowa poprowadzić międzynarodową misję",  # who leads a force, in other languages
    "Kenia liderará una fuerza multinacional",
    # Polish and Spanish as their press writes it: cases, verbs of sending, adjective and noun.
    "Kenijscy policjanci gotowi do wylotu na Karaiby",  # plural policjanci, not policjant-
    "ONZ wyśle na Haiti policjantów z Afryki",
    "Rząd Haiti prosi o zbrojne wsparcie",
    "Haiti potrzebuje zagranicznej policji",
    "Waszyngton szuka kraju, który poprowadzi siły dla Haiti",
    "Sąd w Kenii wstrzymał wyjazd policjantów",
    "Bahamy i Jamajka wyślą funkcjonariuszy, Kenia poprowadzi operację",
    "México descarta mandar militares a Haití",
    "La ONU pide fuerzas internacionales para Haití",
    "Kenia: la justicia frena el despliegue de policías",
]
# The force named by who authorised it or as "the Haiti force", as news did once it was voted.
BY_ITS_MANDATE = [
    "Donors pledge $100 million for the Haiti force",
    "Caribbean states ready to join a UN-authorized force in Haiti",
    "Washington drafts a resolution for a non-UN force in Haiti",
    "Fuerza respaldada por la ONU llegará a Haití en enero",
    "Security Council approves new force to fight Haiti gangs",
]
# The force by what it does (the Gang Suppression Force era), and by who sends soldiers.
BY_ITS_TASK = [
    "L'ONU crée une nouvelle force anti-gangs pour Haïti",
    "La ONU aprueba nueva fuerza antipandillas para Haití",
    "ONU aprova nova força contra gangues no Haiti",
    "Bahamian soldiers head to Haiti",
    "Contingente guatemalteco llega a Haití",
    "Guatemala pulls out of Haiti mission",
    "El Salvador's soldiers in Haiti",
]
# Near misses: the same words about something else.
NEAR_MISSES = [
    "Haiti's national police force struggles as gangs expand their territory",
    "Former UN peacekeepers brought cholera to Haiti in 2010, a study finds",
    "A foreign aid worker was kidnapped by gangs in Haiti",
    "Kenyan court bars the deployment of soldiers to quell protests in Nairobi",
    "Kenyan court bars police deployment to quell protests in Nairobi",
    "Kenya court orders police deployment ahead of by-elections",
    "Kenyan troops in Somalia come under al-Shabaab attack",
    "Brasil relembra os 13 anos da missão de paz no Haiti",
    "Haiti: gangi zaatakowały komisariat policji w stolicy",
    "Policja na Haiti bezradna wobec gangów",
    "Kenia führt die regionale Truppe im Kongo",
    "Polscy misjonarze na Haiti prowadzą szkołę",  # missionaries are not a mission
    "Kenijski kontyngent wspiera siły regionalne w Kinszasie i Goma",
    "Kenijski sąd uniewinnił policjantów oskarżonych o zabójstwo demonstrantów",
    "Kenia y Jamaica dominan el maratón de Boston",
    "US Marines flown in to guard the American embassy in Port-au-Prince",
    "The Pentagon deployed additional Marines to Haiti to secure the US embassy",
    "Haiti mission trip: a church group returns home",
    "Kenyan troops join a UN-backed mission against al-Shabaab",
    "Security Council votes to extend the UN political office in Haiti",
    "Bahamian soldiers intercept a sloop carrying Haitian migrants",
    "Haiti's police create a new anti-gang unit",
    "Jamaica and Haiti meet in the Gold Cup as fans recall past missions",
    "Bahamas troops return 200 Haitian migrants",
    "Court halts the deployment of police officers to Kerio Valley",
    "Judge blocks the deployment of National Guard troops sent to Portland",
    "MPs question the deployment of police officers during protests",
    "MPs approve more police deployment to the North Rift ahead of elections",
    "Lapolis nasyonal la lanse yon operasyon kont gang yo nan Kafou",
    "Haïti : intervention policière à Delmas 33",
    "Chicago police launch a gang suppression task force",
    "Haiti names a new police chief; the force lost 1,000 officers this year",
    # Police sent abroad by other countries, in their own press: no Kenya, no force.
    "Polscy policjanci wysłani za granicę, by wspierać Frontex",
    "España envía policías al extranjero para la Eurocopa",
    "Reciprocal agreement lets Kenyan drivers use their licences in Uganda",
    "Ruto flags off a KDF contingent to the Congo",
    "Kenyan athletes head to the Caribbean for the Diamond League meeting",
]


@pytest.mark.parametrize(
    "title",
    BEFORE_THE_NAME
    + KENYAN_DEPLOYMENT
    + KENYAN_DEPLOYMENT_AT_HOME
    + KENYAN_DEPLOYMENT_ABROAD_IN_OTHER_LANGUAGES
    + KENYAN_DEPLOYMENT_BY_ITS_PARTIES
    + CREOLE
    + OBLIQUE
    + OTHER_LANGUAGES
    + BY_ITS_MANDATE
    + BY_ITS_TASK,
)
def test_the_mission_rule_matches_each_class_of_phrasing(title: str) -> None:
    assert matches(title)


@pytest.mark.parametrize("title", NEAR_MISSES)
def test_the_mission_rule_leaves_the_near_misses(title: str) -> None:
    assert not matches(title)


# Feed items name one side in the headline and the other only in the summary, which NEAR
# does not reach: (headline, a summary that completes it, a summary that does not).
ACROSS_HEADLINE_AND_SUMMARY = [
    # The force only in the summary.
    (
        "Gangs seize another district",
        "Officials in Haiti say a multinational security force is months away.",
        "Officials in Haiti say the national police is months from help.",
    ),
    # Haiti in the headline, the force only in the summary, named obliquely.
    (
        "Haiti gang leader vows war on 'invaders'",
        "He said his coalition would fight the foreign police deployed in June.",
        "He said his coalition would fight the national police.",
    ),
    # Kenya in the headline, Haiti only in the summary.
    (
        "Washington salue l'offre du Kenya",
        "Les États-Unis financeront la mission en Haïti.",
        "Les États-Unis financeront la mission.",
    ),
    # The force in the headline, Haiti only in the summary.
    (
        "Who will lead the international force?",
        "Haiti asked for help in October; no country has stepped forward.",
        "Sudan's generals have rejected any outside troops.",
    ),
    # The force in the headline, Kenya only in the summary.
    (
        "Des ONG dénoncent la résolution sur une force multinationale",
        "L'arrivée de policiers kényans est prévue en janvier.",
        "Les troupes kényanes en Somalie resteront jusqu'en 2025.",
    ),
    # Haiti in the headline, the Security Council's vote for a force in the summary.
    (
        "Haïti : feu vert de l'ONU",
        "Le Conseil de sécurité a approuvé une nouvelle force contre les gangs.",
        "Le Conseil de sécurité a approuvé des sanctions contre les chefs de gang.",
    ),
    # Haiti in the headline, the foreign force named in Polish in the summary.
    (
        "Guterres w Port-au-Prince",
        "Sekretarz generalny ponownie zaapelował o wysłanie międzynarodowych sił policyjnych.",
        "Sekretarz generalny ponownie zaapelował o pomoc humanitarną.",
    ),
    # Haiti in the headline, the multinational mission in the summary.
    (
        "República Dominicana celebra la resolución sobre Haití",
        "El presidente saludó la aprobación de la misión multinacional.",
        "El presidente saludó la aprobación de nuevas sanciones.",
    ),
    # Haiti in the headline, a foreign-led mission in the summary.
    (
        "Gangs overrun a Haitian town and free 500 inmates",
        "No troops of the foreign security mission are based in the region.",
        "No officers of the national police are based in the region.",
    ),
]


@pytest.mark.parametrize(("title", "completes", "does_not"), ACROSS_HEADLINE_AND_SUMMARY)
def test_the_summary_completes_the_headline(title: str, completes: str, does_not: str) -> None:
    assert matches(title, completes)
    assert not matches(title, does_not)


def test_a_creole_force_headline_with_haiti_in_the_summary() -> None:
    assert matches(
        "Gouvènman an di fòs entènasyonal la ap rive byento", "Ayiti ap tann èd pou konbat gang yo."
    )
