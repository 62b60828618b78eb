<?php
/**
 * Settings → Privacy → Policy Guide: a suggested privacy policy section generated from the
 * daemon's config/policy.toml (which systems, what is kept how long, and why). The daemon
 * sends the rules in every heartbeat (heartbeat.policy.rules); before its first heartbeat the
 * section says so.
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * The privacy policy guide's section.
 */
class Wpprivsync_Policy_Text {

	/**
	 * Adds the hook.
	 */
	public static function register() {
		add_action( 'admin_init', array( __CLASS__, 'add_content' ) );
	}

	/**
	 * Offers the section to WordPress's policy guide.
	 */
	public static function add_content() {
		if ( function_exists( 'wp_add_privacy_policy_content' ) ) {
			wp_add_privacy_policy_content( __( 'Privacy Sync', 'wpprivsync' ), wp_kses_post( self::content() ) );
		}
	}

	/**
	 * The rules the daemon sent, or an empty list.
	 *
	 * @return array[]
	 */
	public static function rules() {
		$beat  = get_option( Wpprivsync_Plugin::OPTION_HEARTBEAT );
		$rules = is_array( $beat ) && isset( $beat['policy']['rules'] ) && is_array( $beat['policy']['rules'] ) ? $beat['policy']['rules'] : array();
		return array_values( array_filter( $rules, 'is_array' ) );
	}

	/**
	 * The section's HTML (every value escaped).
	 *
	 * @return string
	 */
	public static function content() {
		$rules = self::rules();
		if ( ! $rules ) {
			return '<p class="privacy-policy-tutorial">' . esc_html__( 'The wpprivsync daemon has not reported its policy yet: this section is filled in from config/policy.toml after its first heartbeat.', 'wpprivsync' ) . '</p>';
		}
		$beat   = get_option( Wpprivsync_Plugin::OPTION_HEARTBEAT );
		$months = isset( $beat['policy']['response_months'] ) ? (int) $beat['policy']['response_months'] : 1;
		$out    = '<p class="privacy-policy-tutorial">' . esc_html__( 'Generated from the policy the wpprivsync daemon applies (config/policy.toml). Each paragraph names where the data lives, how long it is kept and why.', 'wpprivsync' ) . '</p>';
		/* translators: %d: number of months. */
		$out .= '<p>' . esc_html( sprintf( _n( 'We answer a request to access, export or erase your data within %d month of receiving it.', 'We answer a request to access, export or erase your data within %d months of receiving it.', $months, 'wpprivsync' ), $months ) ) . '</p>';
		foreach ( $rules as $rule ) {
			$out .= '<h3>' . esc_html( (string) ( $rule['section'] ?? '' ) ) . '</h3>';
			$out .= '<p class="wpprivsync-policy-rule" data-rule="' . esc_attr( (string) ( $rule['id'] ?? '' ) ) . '">';
			/* translators: 1: what the data is, 2: the system holding it, 3: how long it is kept. */
			$out .= esc_html( sprintf( __( '%1$s, held in %2$s, is kept %3$s.', 'wpprivsync' ), ucfirst( (string) ( $rule['data'] ?? '' ) ), (string) ( $rule['system'] ?? '' ), (string) ( $rule['keep'] ?? '' ) ) );
			if ( ! empty( $rule['why'] ) ) {
				$out .= ' ' . esc_html( ucfirst( (string) $rule['why'] ) ) . '.';
			}
			if ( ! empty( $rule['gdpr'] ) ) {
				/* translators: %s: GDPR article, e.g. art. 6(1)(c). */
				$out .= ' ' . esc_html( sprintf( __( 'Legal basis: GDPR %s.', 'wpprivsync' ), (string) $rule['gdpr'] ) );
			}
			$out .= '</p>';
			if ( ! empty( $rule['clause'] ) ) {
				$out .= '<blockquote>' . esc_html( (string) $rule['clause'] ) . '</blockquote>';
			}
		}
		return $out;
	}
}
