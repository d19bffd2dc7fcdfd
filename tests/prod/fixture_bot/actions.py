"""The fixture bot's one custom action: a per-conversation counter kept in a slot.

Reading the counter from the tracker and writing it back is a read-modify-write on the
conversation: if two Rasa servers handled the same conversation at once (no lock), two
replies would carry the same number. If a server lost the conversation's history, the count
would restart. A message containing "slow" takes 0.3 s, so later messages queue behind the
conversation's lock. The reply echoes the user's text so tests can pair each reply with its turn.
"""

import asyncio
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher


class ActionCount(Action):
    def name(self) -> Text:
        return "action_count"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        count = int(tracker.get_slot("turn_count") or 0) + 1
        text = tracker.latest_message.get("text", "")
        if "slow" in text:  # hold the conversation's lock long enough for later messages to queue
            await asyncio.sleep(0.3)
        dispatcher.utter_message(text=f"#{count} {tracker.latest_message.get('text', '')}")
        return [SlotSet("turn_count", count)]
